"""The scenario suite: every catalogue scenario passes against the correct portal, briefly,
and every planted bug is caught by the invariant it breaks.

Each run is the real thing (`mfa-harness run`): portal, inbox and Locust processes on free
loopback ports, the nemesis, the checker, the reports. Durations are shortened for CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_harness.scenarios import bugmap
from mfa_harness.scenarios.spec import catalog

# Short CI versions: (scenario seconds, time scale) keep each run to a few wall seconds.
SHORT = {
    "smoke": (600, 60),
    "portal-restart": (600, 40),
    "notification-change": (600, 40),
    "clock-jump": (600, 40),
    "smtp-outage": (480, 40),
    "delayed-email": (600, 60),
    "delayed-email-keep": (600, 60),
    "expiry": (900, 90),
    # Planted-bug runs: long enough for each slow typer's first flow (up to ~6.5 scenario minutes)
    "validation": (600, 60),
    "probes": (600, 60),
}
DEFAULT_SHORT = (450, 45)


def run_harness(out: Path, *args: str, timeout: float = 300) -> tuple[int, dict]:
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", *args, "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=timeout)
    verdict_path = out / "verdict.json"
    if not verdict_path.exists():
        pytest.fail(f"no verdict (exit {res.returncode}): {res.stderr[-3000:]}")
    return res.returncode, json.loads(verdict_path.read_text())


def explain(verdict: dict) -> str:
    bad = {k: v for k, v in verdict["invariants"].items() if v["valid"] is not True}
    return json.dumps({"invariants": bad, "thresholds": verdict.get("thresholds"),
                       "metrics": verdict.get("metrics")}, indent=1, default=str)[:6000]


PAIRED = ("delayed-email", "delayed-email-keep")   # run together below, once per resend policy


@pytest.mark.parametrize("name", [s.name for s in catalog() if s.name != "validation" and s.name not in PAIRED])
def test_catalogue_scenario_passes(name: str, tmp_path: Path) -> None:
    duration, scale = SHORT.get(name, DEFAULT_SHORT)
    code, verdict = run_harness(tmp_path / name, name, "--duration", str(duration), "--time-scale", str(scale))
    assert code == 0 and verdict["passed"], explain(verdict)
    assert all(v["valid"] is not False for v in verdict["invariants"].values())
    assert verdict["metrics"]["logins_ok"] + verdict["metrics"]["logins_failed"] > 0
    for artefact in ("history.jsonl", "junit.xml", "report.html", "run.json"):
        assert (tmp_path / name / artefact).is_file(), artefact


# a bug with no white-box invariant (codes-repeat) is black box only: test_loadtests_probers.py catches it
@pytest.mark.parametrize("bug", sorted(b for b, p in bugmap.PLANTED_BUGS.items() if p.invariants))
def test_planted_bug_is_caught(bug: str, tmp_path: Path) -> None:
    planted = bugmap.PLANTED_BUGS[bug]
    duration, scale = SHORT.get(planted.scenario, DEFAULT_SHORT)
    code, verdict = run_harness(tmp_path / bug, planted.scenario, "--bug", bug,
                                "--duration", str(duration), "--time-scale", str(scale))
    for inv in planted.invariants:
        assert verdict["invariants"][inv]["valid"] is False, explain(verdict)
        assert verdict["invariants"][inv]["examples"], inv
    assert code == 0 and verdict["passed"], explain(verdict)


def test_two_locust_workers_and_offline_check_give_the_same_verdict(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    code, verdict = run_harness(out, "smoke", "--duration", "300", "--time-scale", "60", "--workers", "2")
    assert code == 0 and verdict["passed"], explain(verdict)
    workers = {json.loads(line)["proc"].split("-")[0] for line in (out / "client-history.jsonl").open()}
    assert len(workers) == 2, workers                  # one merged history with both workers' operations
    (out / "verdict.json").unlink()
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "check", str(out)], capture_output=True,
                         text=True, timeout=120)
    again = json.loads((out / "verdict.json").read_text())
    assert res.returncode == code
    assert again["invariants"] == verdict["invariants"] and again["passed"] == verdict["passed"]


def test_delayed_email_once_per_resend_policy(tmp_path: Path) -> None:
    """The same late-mail scenario under resend = invalidate and resend = keep, compared."""
    outs = []
    for name in PAIRED:
        duration, scale = SHORT[name]
        code, verdict = run_harness(tmp_path / name, name, "--duration", str(duration), "--time-scale", str(scale))
        assert code == 0 and verdict["passed"], explain(verdict)
        assert verdict["metrics"]["resends"] > 0, "impatient users resend while the mail is late"
        outs.append(tmp_path / name)
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "compare", *map(str, outs)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "failed_login_rate" in res.stdout, res.stderr
    print(res.stdout)  # the difference in failed logins, in the test log
