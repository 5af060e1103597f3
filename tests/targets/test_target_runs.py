"""`mfa-harness run smoke --target` against each real third-party site, black box, at time scale 1.

Bounded (30 s, 2 users). The run starts with the probe, is judged against the policy the shipped
profile declares (Flask: codes repeat and resend keeps older codes; Django: logins within the
cooldown share the device's code, no resend, no wrong-code limit) and must pass: zero false
alarms. A time scale the profile's clock_scale does not declare is refused before any load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sitekit import ROOT, Inbox, need_library

from mfa_harness.loadtests.profile import PROFILE_DIR

pytestmark = pytest.mark.slow


def run_smoke(url: str, inbox: Inbox, profile: str, accounts: list[dict[str, Any]], tmp: Path,
              scale: str = "1") -> tuple[subprocess.CompletedProcess, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    acc = tmp / "accounts.json"
    acc.write_text(json.dumps(accounts), encoding="utf-8")
    out = tmp / "run"
    done = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "smoke", "--target", url,
                           "--inbox-url", inbox.url, "--target-profile", str(PROFILE_DIR / f"{profile}.toml"),
                           "--accounts-file", str(acc), "--time-scale", scale, "--duration", "30", "--users", "2",
                           "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return done, out


@pytest.mark.parametrize(("module", "profile", "options", "repeat"), [
    ("django_2fa", "django-two-factor", (), True),
    ("flask_security_site", "flask-security", ("--two-factor", "per-user", "--affiliates", "2"), True),
])
def test_smoke_against_the_site_passes_black_box(start_target: Any, target_inbox: Inbox, tmp_path: Path,
                                                 module: str, profile: str, options: tuple[str, ...],
                                                 repeat: bool) -> None:
    need_library("two_factor" if module == "django_2fa" else "flask_security")
    url, accounts = start_target(module, *options)
    done, out = run_smoke(url, target_inbox, profile, accounts, tmp_path)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["metrics"]["logins_ok"] > 0
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["white_box"] is False and run_info["policy"]["codes_repeat"] is repeat
    assert run_info["policy_source"] == f"profile {PROFILE_DIR / f'{profile}.toml'} [policy]"
    # the verdict names the same policy, rule by rule (both libraries: wrong_code_limit = "none")
    rules = verdict["policy"]["rules"]
    assert verdict["policy"]["source"] == run_info["policy_source"] and rules["codes_repeat"]["value"] is repeat
    assert rules["max_attempts"]["value"] == "none" and 'wrong_code_limit = "none"' in rules["max_attempts"]["from"]
    # one shared sign-in form (Django): a step is an affiliate's because the account is, not the path
    programs = {a["username"]: a["program"] for a in accounts}
    ops = {(r["op"], programs[r["user"]] == "affiliate") for line in (out / "client-history.jsonl").open()
           if (r := json.loads(line)).get("op") in ("login", "affiliate_login") and r.get("type") == "invoke"}
    assert ("affiliate_login", False) not in ops and ("login", False) in ops, ops
    refused, out2 = run_smoke(url, target_inbox, profile, accounts, tmp_path / "x", scale="30")
    assert refused.returncode == 2 and "--time-scale 30 with --target" in refused.stderr, refused.stderr
    assert "policy.clock_scale = 1" in refused.stderr and not out2.exists()
