"""`mfa-harness` errors a user can cause: one line on stderr and exit 2, never a traceback (issue 13.15, 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_out_naming_an_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "taken"
    existing.write_text("keep me\n", encoding="utf-8")
    assert "exists and is not a folder" in one_line(cli("run", "smoke", "--out", str(existing)))
    assert existing.read_text(encoding="utf-8") == "keep me\n"


def test_out_under_proc() -> None:
    assert "--out /proc/mfa-harness-run: cannot write there" in one_line(
        cli("run", "smoke", "--out", "/proc/mfa-harness-run"))


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--time-scale", "1e308", "must be <= 10000"),
    ("--time-scale", "inf", "must be <= 10000"),
    ("--time-scale", "nan", "must be > 0"),
    ("--users", "1000000", "must be <= 10000"),
    ("--duration", "1e12", "must be <= 604800"),
])
def test_absurd_values_are_refused_before_anything_starts(option: str, value: str, words: str) -> None:
    """`run smoke --time-scale 1e308` used to run the whole scenario and crash on a NaN in metrics.py."""
    assert words in one_line(cli("run", "smoke", option, value))


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback() -> None:
    """`mfa-harness list | head -2`: the reader is gone before the listing is written."""
    proc = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()                      # like `head` after its lines
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, err
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
