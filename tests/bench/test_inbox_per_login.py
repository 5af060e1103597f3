"""Keeps the `bench.inbox_per_login` tool working: a few logins through a real inbox, the wait
answered with the code of the portal's own email, per-login CPU reported (speed not looked at)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("reuse", [False, True])
def test_inbox_per_login_measures_a_few_logins(tmp_path: Path, reuse: bool) -> None:
    argv = [sys.executable, "-m", "bench.inbox_per_login", "--rounds", "1", "--logins", "20", "--warmup", "5",
            "--users", "4", "--rate", "50", "--out", str(tmp_path), *(["--reuse-smtp"] if reuse else [])]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1 and rows[0]["side"] == "new-0" and rows[0]["logins"] == 20
    assert rows[0]["cpu_ms_per_login"] > 0 and rows[0]["user_ms"] >= 0
    assert "new: median cpu_ms_per_login" in proc.stdout
