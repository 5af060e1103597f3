"""A run that did less than its scenario asked cannot pass: Locust refusing its options, no flow
finished, thresholds never evaluated, a nemesis step that failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from child_pids import alive, ready_pids

from mfa_harness.scenarios.verdict_io import EXIT_INVARIANT, EXIT_SETUP, exit_code, run_problems

FLOWS = {"logins_ok": 3, "logins_failed": 1}


def test_a_complete_run_has_no_problems() -> None:
    info = {"locust_exit": 1, "thresholds_asked": ["loops == 0"], "thresholds": {"loops == 0": {}},
            "nemesis_errors": []}
    assert run_problems(info, FLOWS) == []
    assert run_problems({}, FLOWS) == []                       # run.json of an older version


def test_each_shortfall_is_named() -> None:
    problems = run_problems({"locust_exit": 2, "thresholds_asked": ["loops == 0"], "thresholds": {},
                             "nemesis_errors": ["kill-portal at 60: no local portal"]},
                            {"logins_ok": 0, "logins_failed": 0})
    assert [p.split(" ")[0] for p in problems] == ["Locust", "no", "threshold(s)", "1"]
    assert "kill-portal at 60" in problems[3] and "loops == 0" in problems[2]


def test_exit_code_of_a_run_with_problems() -> None:
    assert exit_code({"passed": False, "invariants_as_expected": True, "problems": ["x"]}) == EXIT_SETUP
    # a violation found is still reported as one
    assert exit_code({"passed": False, "invariants_as_expected": False, "problems": ["x"]}) == EXIT_INVARIANT


def test_locust_refusing_its_options_fails_the_run(tmp_path: Path) -> None:
    scenario = tmp_path / "bad-locust.toml"
    scenario.write_text('name = "bad-locust"\ndescription = "Locust refuses an option"\nduration = 60\n'
                        'time_scale = 60\n[personas]\ncareful = 1\n[load]\nusers = 1\n'
                        'locust_args = ["--threshold", "loops =="]\n', encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario), "--out", str(out)],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == EXIT_SETUP, (proc.stdout[-2000:], proc.stderr[-2000:])
    # refused before any load, in one line that says why (it used to be "Locust exited with 2" and the
    # real reason only in logs/locust.log)
    assert proc.stderr.count("\n") == 1 and "Locust did not start" in proc.stderr and "loops ==" in proc.stderr, \
        proc.stderr
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["passed"] is False and "loops ==" in verdict["problems"][0]
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert 'errors="1"' in junit and "loops ==" in junit
    # the target started before Locust refused: the one exit stack stopped it all the same
    pids = ready_pids(out / "logs" / "portal.log", out / "logs" / "inbox.log")
    assert len(pids) == 2 and not [p for p in pids if alive(p)]


def test_a_run_that_did_less_than_asked_is_a_problem() -> None:
    """Workers lost and Locust stopped early (3 flows in 60 s), or 123 of 300 users ran: said so, exit 2."""
    load = {"users_asked": 300, "users_peak": 123, "workers_asked": 4, "workers_reported": 1,
            "run_time_asked_s": 60, "run_time_s": 7.5, "stopped_early": "ran 7.5 of 60 wall seconds"}
    problems = run_problems({"load": load}, FLOWS)
    assert any("only 123 of 300 users" in p for p in problems), problems
    assert any("only 1 of 4 Locust workers" in p for p in problems), problems
    assert any("stopped early" in p and "7.5" in p for p in problems), problems
    assert run_problems({"load": {**load, "allow_partial": True}}, FLOWS) == []       # the scenario allows it
    assert run_problems({"load": {"users_asked": 8, "users_peak": 8, "workers_asked": 0}}, FLOWS) == []


def test_zero_successful_login_flows_is_never_a_pass() -> None:
    problems = run_problems({"locust_exit": 0}, {"logins_ok": 0, "logins_failed": 40})
    assert problems and "no login flow succeeded" in problems[0]
