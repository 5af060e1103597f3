"""Ctrl-C in the middle of `mfa-harness run` stops the portal, the inbox and Locust."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from child_pids import alive, ready_pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_tears_the_stack_down(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "smoke", "--duration", "6000",
                             "--time-scale", "60", "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "command.txt").exists():     # Locust is being started: the stack is up
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        pids = ready_pids(out / "logs" / "portal.log", out / "logs" / "inbox.log")
        assert len(pids) == 2
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert not [p for p in pids if alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
