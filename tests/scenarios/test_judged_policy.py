"""The verdict, junit.xml and the report state the policy the run was judged against and where each
rule came from (issue 11): the target profile, the reference defaults (assumed), or white box the
scenario and the reference portal's own announcement. Older run folders still load everywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from histories import History, account

from mfa_harness.checker.policy import DEFAULT_POLICY
from mfa_harness.loadtests.profile import PROFILE_DIR, load_profile, profile_from_dict
from mfa_harness.scenarios import spec
from mfa_harness.scenarios.judged_policy import ANNOUNCED, ASSUMED, checker_policy, policy_origins
from mfa_harness.scenarios.junit import build_junit
from mfa_harness.scenarios.report import render_report
from mfa_harness.scenarios.run_options import RunOptions
from mfa_harness.scenarios.run_record import RunRecord
from mfa_harness.scenarios.runner import new_record
from mfa_harness.scenarios.schemas import path_of
from mfa_harness.scenarios.verdict_io import compute_verdict

FLASK = PROFILE_DIR / "flask-security.toml"


def _history(announce: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    h = History()
    if announce is not None:
        h.portal(0.5, "portal_started", pid=1, bugs=[], policy=announce)
    for i in range(1, 3):
        h.login(10.0 * i, i, i, pid=1, portal=announce is not None)
    return h.lines()


def _target_record(profile_path: Path | None, profile: Any = None) -> RunRecord:
    """The run record `mfa-harness run --target` makes (runner.new_record), as written to run.json."""
    profile = profile or load_profile(profile_path)
    policy, source = checker_policy(profile)
    opts = RunOptions(target="http://127.0.0.1:9", inbox_url="http://127.0.0.1:9", target_profile=profile_path)
    record = new_record(spec.load("smoke"), opts, policy, source, policy_origins(profile))
    record.accounts = [account(1)]
    return RunRecord.from_json(json.loads(json.dumps(record.to_json())))


def _properties(verdict: dict[str, Any]) -> dict[str, str]:
    suite = build_junit(verdict).find("testsuite")
    assert suite is not None
    return {p.get("name"): p.get("value") for p in suite.iter("property") if p.get("name", "").startswith("policy")}


def _schema_errors(verdict: dict[str, Any]) -> list[str]:
    schema = json.loads(path_of("verdict").read_text(encoding="utf-8"))
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(json.loads(json.dumps(verdict)))]


def test_a_target_verdict_names_each_profile_rule_and_the_assumed_rest() -> None:
    verdict = compute_verdict(_history(), _target_record(FLASK))
    policy = verdict["policy"]
    where = f"profile {FLASK} [policy]"
    assert policy["source"] == where and policy["white_box"] is False
    assert list(policy["rules"]) == list(DEFAULT_POLICY)                    # every rule, always
    rules = policy["rules"]
    assert rules["max_attempts"] == {"value": "none", "judged_as": 10 ** 9, "from": f"{where}: wrong_code_limit = \"none\""}
    assert rules["resend_cooldown"]["value"] == "none" and rules["resend_cooldown"]["judged_as"] == 0.0
    assert rules["code_ttl"] == {"value": 300, "from": f"{where}: code_lifetime_s = 300"}
    assert rules["resend"] == {"value": "keep", "from": f"{where}: resend_voids_older = false"}
    assert rules["codes_repeat"] == {"value": True, "from": f"{where}: codes_repeat = true"}
    assert rules["challenge_ttl"] == {"value": 600.0, "from": ASSUMED}        # the profile does not say
    assert rules["mail_retry_within"] == {"value": "none", "judged_as": None,
                                          "from": f"{where}: mail_retry_within_s = \"none\""}
    assert rules["max_codes_per_account_hour"]["from"] == ASSUMED
    assert policy["not_judged"]["codes_per"] == "account" and policy["not_judged"]["clock_scale"] == 1
    assert _schema_errors(verdict) == []
    props = _properties(verdict)
    assert props["policy.source"] == where
    assert props["policy.max_attempts"] == f"none ({where}: wrong_code_limit = \"none\", judged as 1000000000)"
    assert props["policy.challenge_ttl"] == f"600.0 ({ASSUMED})"
    page = render_report(verdict, [])
    assert "Policy judged against" in page and "black box, --target" in page
    assert "wrong_code_limit = &quot;none&quot;" in page and "codes_per" in page


def test_a_profile_without_a_policy_is_judged_against_the_reference_defaults_assumed() -> None:
    data = json.loads(json.dumps({k: v for k, v in _reference_dict().items() if k != "policy"}))
    verdict = compute_verdict(_history(), _target_record(None, profile_from_dict(data, "bare.toml")))
    policy = verdict["policy"]
    assert policy["source"] == "reference defaults (assumed: the profile declares no [policy])"
    assert {r["from"] for r in policy["rules"].values()} == {ASSUMED}
    assert policy["rules"]["max_attempts"]["value"] == 5 and "not_judged" not in policy
    assert policy["rules"]["mail_retry_within"] == {"value": "unknown", "judged_as": None, "from": ASSUMED}
    assert _properties(verdict)["policy.source"].startswith("reference defaults (assumed")


def test_a_white_box_verdict_names_the_portal_announcement_and_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "keep.toml"
    scenario.write_text('name = "keep"\ndescription = "keep"\nseed = 1\nduration = 60\n[personas]\ncareful = 1\n'
                        '[policy]\nresend = "keep"\ncode_ttl = 120\n', encoding="utf-8")
    record = new_record(spec.load(str(scenario)), RunOptions(), {}, "")
    record = RunRecord.from_json(json.loads(json.dumps(record.to_json())))
    announced = {"code_lifetime": 120.0, "pending_lifetime": 600.0, "max_attempts": 5, "resend_cooldown": 30.0,
                 "max_codes_per_challenge": 5, "max_codes_per_account_hour": 10, "resend": "keep",
                 "smtp_timeout": 10.0}
    policy = compute_verdict(_history(announced), record)["policy"]
    assert policy["source"] == ANNOUNCED + "; scenario keep [policy] overrides" and policy["white_box"] is True
    rules = policy["rules"]
    assert rules["resend"] == {"value": "keep", "from": "scenario keep [policy]: resend = \"keep\""}
    assert rules["code_ttl"] == {"value": 120.0, "from": "scenario keep [policy]: code_lifetime = 120"}
    assert rules["max_attempts"] == {"value": 5, "from": ANNOUNCED}
    assert rules["mail_window"] == {"value": 300.0, "from": "reference default"}
    # no announcement in the history (the portal never started): the defaults, said as such
    bare = compute_verdict(_history(), RunRecord(scenario="smoke"))["policy"]
    assert bare["source"] == "reference defaults (the portal announced no policy)"
    assert bare["rules"]["max_attempts"] == {"value": 5, "from": "reference default"}


def _reference_dict() -> dict[str, Any]:
    import tomllib

    return tomllib.loads((PROFILE_DIR / "reference.toml").read_text(encoding="utf-8"))


def _old_run(folder: Path) -> None:
    """A run folder as an earlier version wrote it: run.json without policy_origins, a verdict.json
    without `policy` or unclassified examples, and an unclassified page recorded without an excerpt."""
    h = History()
    for i in range(1, 4):
        h.login(10.0 * i, i, i, pid=1, portal=False)
    h.op(50.0, "access_account", "fail", result={"landed": "/odd", "page": None, "status": 200, "chain": ["/odd"]})
    folder.mkdir()
    (folder / "history.jsonl").write_text("".join(json.dumps(line) + "\n" for line in h.lines()), encoding="utf-8")
    run = {"scenario": "smoke", "seed": 1, "time_scale": 60.0, "white_box": False, "policy": {"max_attempts": 10 ** 9},
           "policy_source": "profile old.toml [policy]", "accounts": [account(1)], "locust_exit": 0}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    verdict = {"scenario": "smoke", "seed": 1, "time_scale": 60.0, "passed": True, "invariants": {},
               "thresholds": {}, "metrics": {"logins_ok": 3, "logins_failed": 0},
               "server_answers": {"steps": 10, "server_errors": 0, "unclassified": 1, "no_answer": 0, "share": 0.1,
                                  "examples": []}}
    (folder / "verdict.json").write_text(json.dumps(verdict), encoding="utf-8")


def test_older_run_folders_load_in_the_report_compare_and_check(tmp_path: Path) -> None:
    old = tmp_path / "old"
    _old_run(old)
    page = render_report(json.loads((old / "verdict.json").read_text(encoding="utf-8")), [])
    assert "Not recorded in this verdict" in page and "Portal answers" in page
    assert not build_junit(json.loads((old / "verdict.json").read_text())).findall(".//property[@name='policy.source']")
    cli = [sys.executable, "-m", "mfa_harness.scenarios.cli"]
    done = subprocess.run([*cli, "compare", str(old), str(old)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run([*cli, "check", str(old)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "judged against: profile old.toml [policy]" in done.stdout, done
    verdict = json.loads((old / "verdict.json").read_text(encoding="utf-8"))
    rules = verdict["policy"]["rules"]
    assert rules["max_attempts"] == {"value": 10 ** 9, "from": "profile old.toml [policy]"}    # run.json said so
    assert rules["code_ttl"]["from"] == ASSUMED
    assert verdict["server_answers"]["unclassified_examples"] == [
        {"op": "access_account", "st": 50.05, "status": 200, "path": "/odd", "excerpt": None}]
    assert "HTTP 200 /odd (no excerpt recorded)" in (old / "unclassified.txt").read_text(encoding="utf-8")
    assert "policy.source" in (old / "junit.xml").read_text(encoding="utf-8")
    assert "Policy judged against" in (old / "report.html").read_text(encoding="utf-8")
