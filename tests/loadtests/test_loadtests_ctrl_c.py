"""Ctrl-C stops Locust even when it lands in a ``__del__`` (loadtests/interrupt.py).

A user that spends nearly all its time in ``__del__`` methods makes the race near certain: Python raises
the KeyboardInterrupt inside one, prints "Exception ignored in ...", and Locust runs on to its ``-t``
limit. The harness hands SIGINT to gevent's loop instead, so the same run stops within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LOCUSTFILE = '''
import time
import gevent
from locust import User, events, task
from mfa_harness.loadtests.interrupt import catch_ctrl_c

class Slow:
    def __del__(self):                 # where Python would raise, and lose, a KeyboardInterrupt
        end = time.perf_counter() + 0.01
        while time.perf_counter() < end:
            pass

class Busy(User):
    @task
    def churn(self):
        for _ in range(5):
            Slow()
        if not getattr(Busy, "said", False):
            Busy.said = True
            print("CHURNING", flush=True)
        gevent.sleep(0)

@events.init.add_listener
def _init(environment, **_):
    if {handled!r}:
        catch_ctrl_c()
'''


def as_in_a_terminal() -> None:
    """In the child: SIGINT as a terminal's foreground job gets it (a background CI job inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(tmp_path: Path, handled: bool) -> tuple[float, str]:
    """Seconds from Ctrl-C to exit (capped by -t 40s), and the log."""
    locustfile = tmp_path / f"busy_{handled}.py"
    locustfile.write_text(LOCUSTFILE.format(handled=handled), encoding="utf-8")
    log = tmp_path / f"busy_{handled}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "1",
                                 "-r", "1", "-t", "40s", "--only-summary", "--loglevel", "WARNING"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=as_in_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while b"CHURNING" not in log.read_bytes() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)     # a bounded poll of a file another process writes
        assert proc.poll() is None and b"CHURNING" in log.read_bytes(), log.read_text(errors="replace")[-2000:]
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=90)
        return time.monotonic() - sent, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.mark.slow
def test_ctrl_c_in_a_del_stops_locust(tmp_path: Path) -> None:
    took, log = _run(tmp_path, handled=True)
    assert took < 20, f"Locust ran on for {took:.0f} s after Ctrl-C: {log[-2000:]}"


def test_the_harness_takes_ctrl_c_over_unless_it_is_ignored() -> None:
    """The harness's locustfile installs the handler (`runtime.on_init`), except where SIGINT is ignored
    (a worker forked by `--processes`, a background job): there the master or the shell decides."""
    code = ("import signal, gevent.monkey; gevent.monkey.patch_all()\n"
            "from mfa_harness.loadtests.interrupt import catch_ctrl_c\n"
            "print(catch_ctrl_c()); signal.signal(signal.SIGINT, signal.SIG_IGN); print(catch_ctrl_c())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         preexec_fn=as_in_a_terminal).stdout
    assert out.split() == ["True", "False"]
    runtime = (Path(__file__).resolve().parents[2] / "loadtests" / "runtime.py").read_text(encoding="utf-8")
    assert "    catch_ctrl_c()" in runtime.split("def on_init", 1)[1].split("\ndef ", 1)[0]
