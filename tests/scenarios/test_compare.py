"""`mfa-harness compare`: the difference two runs make, e.g. resend policy invalidate vs keep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_harness.scenarios.compare import compare_rows


def verdict(ok: int, failed: int, outcomes: dict[str, int], name: str) -> dict:
    return {"scenario": name, "passed": True,
            "metrics": {"logins_ok": ok, "logins_failed": failed, "outcomes": outcomes, "resends": 7}}


def test_rows_give_failure_rates_and_outcome_differences() -> None:
    rows = {r[0]: r for r in compare_rows(verdict(80, 20, {"ok": 80, "wrong_code": 20}, "a"),
                                          verdict(95, 5, {"ok": 95, "wrong_code": 4, "expired": 1}, "b"))}
    assert rows["logins_failed"][1:] == (20, 5, -15)
    assert rows["failed_login_rate"][1:] == (0.2, 0.05, -0.15)
    assert rows["outcome.expired"][1:] == (0, 1, 1)
    assert rows["login_ok_p95_s"][3] is None           # missing on both sides: no difference invented


def test_cli_compare_and_bad_folder(tmp_path: Path) -> None:
    for name, v in (("a", verdict(80, 20, {}, "delayed-email")), ("b", verdict(95, 5, {}, "delayed-email-keep"))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "verdict.json").write_text(json.dumps(v))
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "logins_failed" in res.stdout and "-15" in res.stdout
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "compare", str(tmp_path), str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "not a finished run" in res.stderr and "Traceback" not in res.stderr


def _two_runs(tmp_path: Path, failed_a: int, failed_b: int) -> tuple[Path, Path]:
    for name, failed, scenario in (("a", failed_a, "delayed-email"), ("b", failed_b, "delayed-email-keep")):
        (tmp_path / name).mkdir(exist_ok=True)
        v = verdict(100 - failed, failed, {"ok": 100 - failed, "expired": failed}, scenario)
        (tmp_path / name / "verdict.json").write_text(json.dumps(v))
    return tmp_path / "a", tmp_path / "b"


def _compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "compare", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_compare_json_is_the_rows_for_other_tools(tmp_path: Path) -> None:
    a, b = _two_runs(tmp_path, 20, 5)
    res = _compare(a, b, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    rows = {r["metric"]: r for r in doc["rows"]}
    assert rows["logins_failed"] == {"metric": "logins_failed", "a": 20, "b": 5, "diff": -15}
    assert rows["outcome.expired"]["b"] == 5 and rows["login_ok_p95_s"]["diff"] is None
    assert doc["a"]["scenario"] == "delayed-email" and doc["b"]["dir"] == str(b)
    assert doc["passed"] is True and doc["gates"] == []


@pytest.mark.parametrize("gate, failed_a, failed_b, passed", [
    ("logins_failed > +10%", 20, 23, False),       # +15 %
    ("logins_failed > +10%", 20, 21, True),        # +5 %
    ("logins_failed > +10%", 0, 1, False),         # from none to some
    ("logins_failed > +2", 20, 23, False),         # absolute change +3
    ("logins_failed > 25", 20, 23, True),          # B's value
    ("failed_login_rate > +0.01", 20, 23, False),
    ("outcome.expired >= +1", 20, 21, False),
    ("outcome.loop > +0", 20, 23, True),           # an outcome neither run had
    ("logins_ok < -5%", 20, 23, True),             # 80 -> 77: -3.75 %
])
def test_fail_if_is_a_regression_gate_with_exit_3(tmp_path: Path, gate: str, failed_a: int, failed_b: int,
                                                  passed: bool) -> None:
    a, b = _two_runs(tmp_path, failed_a, failed_b)
    res = _compare(a, b, "--fail-if", gate, "--json")
    assert res.returncode == (0 if passed else 3), (res.stdout, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["passed"] is passed and doc["gates"][0]["expr"] == gate and doc["gates"][0]["passed"] is passed
    text = _compare(a, b, "--fail-if", gate)
    assert text.returncode == res.returncode and ("TRIPPED" in text.stdout) is (not passed)


@pytest.mark.parametrize("gate, message", [
    ("logins_failed >> 3", "expected 'METRIC OP [+|-]NUMBER[%]'"),
    ("logins_failed > 10%", "needs a sign"),
    ("nonsense > +1", "unknown metric 'nonsense'"),
])
def test_bad_gates_are_usage_errors(tmp_path: Path, gate: str, message: str) -> None:
    a, b = _two_runs(tmp_path, 20, 5)
    res = _compare(a, b, "--fail-if", gate)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
