"""`code-not-bound` decided black box, as a user would run it: `mfa-harness up --bug code-not-bound`
(real portal and inbox processes), then `mfa-harness run --target URL --inbox-url URL --accounts-url
URL` with `two-browsers` users: no portal event log, only the client history, the inbox's deliveries
and the accounts. The bug makes `binding` invalid; the correct portal keeps it valid with cases."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCENARIO = """name = "two-browsers-black-box"
description = "one account in two browsers: the second types the first one's live code"
seed = 11
time_scale = 60
duration = 240

[population]
partners = 8

[load]
users = 2

[personas]
two-browsers = 2
"""


def _urls(proc: subprocess.Popen[str], timeout: float = 120.0) -> dict[str, str]:
    """The portal and inbox URLs from `up`'s table, read on a thread so the wait is bounded."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    urls: dict[str, str] = {}
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"up ended before it was ready (exit {proc.poll()}), saw {urls}")
        if line.startswith(("portal ", "inbox ")):
            urls[line.split()[0]] = line.split()[1].rstrip("/")
        if "Ctrl-C stops both" in line:
            return urls


@pytest.mark.parametrize("bug", ["code-not-bound", None], ids=["code-not-bound", "correct"])
def test_two_browsers_decide_binding_black_box(tmp_path: Path, bug: str | None) -> None:
    scenario = tmp_path / "two-browsers.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    up = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "up", "--out", str(tmp_path / "up"),
                           "--partners", "8", "--time-scale", "60", *(["--bug", bug] if bug else [])],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        urls = _urls(up)
        out = tmp_path / "run"
        done = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario),
                               "--target", urls["portal"], "--inbox-url", urls["inbox"],
                               "--accounts-url", urls["portal"] + "/_harness/accounts", "--out", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=240)
    finally:
        up.send_signal(signal.SIGINT)                # Ctrl-C: `up` stops its portal and inbox
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(timeout=30)
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    binding = verdict["invariants"]["binding"]
    if bug:
        assert done.returncode == 1 and binding["valid"] is False, (done.stderr[-2000:], binding)
        assert binding["other_login_codes"]["accepted"] >= 1, binding
    else:
        assert done.returncode == 0, (done.stderr[-2000:], verdict["invariants"])
        assert binding["valid"] is True and binding["checked"] > 0, binding
        assert binding["other_login_codes"]["tries"] >= 1 and binding["other_login_codes"]["accepted"] == 0
