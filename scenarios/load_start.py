"""The Locust process part, and the moment the load begins: scenario time 0, whatever the start-up costs.

Locust starts with `--await-go` and says when it is ready (set up, workers connected, target
checked). Only then does the runner pick the epoch, move the target's clocks and fault windows
onto it (`targets.py`), and tell Locust to begin at it. Before this, the runner slept until an
epoch fixed at launch and only then started Locust, whose own start-up (1.4 s and more on a busy
machine) put the first client operation at scenario time ~80 s at x60.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from mfa_harness.errors import SetupError, StartError

from .stack import start_child

GO_MARGIN_S = 0.3          # wall seconds between "everything is up" and scenario time 0 (clock moves, go line)
LOCUST_READY_S = 180.0     # wall seconds Locust may take to set up (imports, workers, preflight) on a busy host


class LoadStartError(SetupError):
    """The load could not be started; the message is one line for the user, `reason` Locust's own."""


class LocustProcess:
    """Locust as a child process: start (ready line), go (the epoch on its stdin), wait, stop. `stop` is
    idempotent and safe before `start`, so the runner registers it first."""

    def __init__(self, argv: list[str], out: Path):
        self.argv, self.out = argv, out
        self.proc: subprocess.Popen | None = None

    @property
    def exit_code(self) -> int | None:
        return self.proc.returncode if self.proc else None

    def start(self) -> None:
        """Start Locust and wait (bounded) for its ready line: set up, workers connected, target answered."""
        try:
            child = start_child("locust", self.argv, self.out / "logs" / "locust.log", timeout=LOCUST_READY_S,
                                stdin_pipe=True)
        except StartError as exc:
            raise LoadStartError(f"Locust did not start: {exc.reason}" if exc.reason else exc.message,
                                 **exc.fields) from None
        self.proc = child.proc

    def go(self, epoch: float) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({"epoch": epoch}) + "\n").encode())
            self.proc.stdin.close()
        except OSError:
            pass        # Locust is gone: its exit code says why

    def wait(self, max_wall_s: float) -> None:
        """Until Locust ends by itself, or SIGTERM after `max_wall_s` (its run time plus a margin)."""
        assert self.proc is not None
        deadline = time.time() + max_wall_s
        while self.proc.poll() is None:
            if time.time() > deadline:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=60)
                break
            try:
                self.proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        proc = self.proc
        if proc and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=30)
