"""`mfa-harness compare`: the difference two runs make, e.g. resend policy invalidate vs keep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scenarios.compare import compare_rows


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
    res = subprocess.run([sys.executable, "-m", "scenarios.cli", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "logins_failed" in res.stdout and "-15" in res.stdout
    res = subprocess.run([sys.executable, "-m", "scenarios.cli", "compare", str(tmp_path), str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "not a finished run" in res.stderr and "Traceback" not in res.stderr
