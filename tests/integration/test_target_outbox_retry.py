"""`outbox-no-retry` caught black box: the reference portal run as a foreign target through an SMTP outage.

Two real `mfa-harness up` stacks (one with the planted bug, one correct) and, against each, a real
`mfa-harness run smtp-outage --target ... --inbox-url ... --accounts-url ...`: no portal event log,
the reference profile's `mail_retry_within_s`, the scenario's fault plan put to the `up` inbox
through its API. The bugged portal's refused code mails never come, so `outbox` is invalid; the
correct one's come after the outage, so it is valid with those cases counted. Both pairs run at
once (about half a minute of wall time: the run must outlast the outage, the retry window and
the outbox grace, 15 wall seconds).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCALE = "60"
READY_LINE = "Ctrl-C stops both"


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The child's stdout lines, read on a thread so every wait for one is bounded."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _urls(proc: subprocess.Popen[str], timeout: float = 120.0) -> tuple[str, str]:
    """The portal and inbox URLs `up` prints, once it says it is ready."""
    lines, seen, deadline = _lines(proc), [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if READY_LINE in line:
            urls = {ln.split()[0]: ln.split()[1].rstrip("/") for ln in seen if ln.startswith(("portal ", "inbox "))}
            return urls["portal"], urls["inbox"]
    raise AssertionError(f"`up` not ready within {timeout} s (exit {proc.poll()}): {seen}")


def _stop(proc: subprocess.Popen[str], out: Path) -> None:
    """Ctrl-C, as a person stops `up`; its children (own sessions) are killed if it did not stop them."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    for log in (out / "logs" / "portal.log", out / "logs" / "inbox.log"):
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if line.startswith("{") and '"ready"' in line:
                try:
                    os.kill(int(json.loads(line)["pid"]), signal.SIGKILL)
                except ProcessLookupError:
                    pass


@contextmanager
def up(out: Path, *args: str) -> Iterator[tuple[str, str]]:
    """A real `mfa-harness up` (seeded like the scenario's population) and its URLs."""
    proc = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "up", "--out", str(out),
                             "--partners", "30", "--time-scale", SCALE, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        yield _urls(proc)
    finally:
        _stop(proc, out)


def run_against(portal: str, inbox: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "smtp-outage",
                             "--target", portal, "--inbox-url", inbox, "--accounts-url", portal + "/_harness/accounts",
                             "--time-scale", SCALE, "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def test_outbox_no_retry_is_caught_black_box_and_a_correct_outbox_is_not_blamed(tmp_path: Path) -> None:
    with ExitStack() as stacks:
        bugged = stacks.enter_context(up(tmp_path / "up-bug", "--bug", "outbox-no-retry"))
        correct = stacks.enter_context(up(tmp_path / "up-ok"))
        runs = {"bug": run_against(*bugged, tmp_path / "run-bug"), "ok": run_against(*correct, tmp_path / "run-ok")}
        done = {name: proc.communicate(timeout=400) for name, proc in runs.items()}
    verdicts = {}
    for name in runs:
        assert "Traceback" not in done[name][1], done[name][1][-3000:]
        verdicts[name] = json.loads((tmp_path / f"run-{name}" / "verdict.json").read_text())
        run_info = json.loads((tmp_path / f"run-{name}" / "run.json").read_text())
        assert run_info["white_box"] is False and run_info["policy"]["mail_retry_within"] == 30
    lost = verdicts["bug"]["invariants"]["outbox"]
    assert lost["valid"] is False and lost["mail_retry"]["lost"] > 0, lost
    assert [line["op"] for line in lost["examples"][0]][:2] == ["login", "login"]     # its invoke and code page
    came = verdicts["ok"]["invariants"]["outbox"]
    assert came["valid"] is True and came["mail_retry"]["came"] > 0 and not came["mail_retry"].get("lost"), came
    assert verdicts["ok"]["passed"] and runs["ok"].returncode == 0, done["ok"][1][-3000:]
    assert all(inv["valid"] is not False for inv in verdicts["ok"]["invariants"].values())
