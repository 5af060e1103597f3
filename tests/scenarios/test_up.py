"""`mfa-harness up` as a person uses it: the printed table works, Ctrl-C stops both children.

The command runs as a real subprocess on ports the OS reported free; a person's login goes
through the printed portal URL with printed credentials until the code is in the printed inbox.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from child_pids import alive, children, ready_pids

from mfa_harness.scenarios.browser import Inbox, Portal
from mfa_harness.scenarios.cli import main

READY_LINE = "Ctrl-C stops both"


def _free_ports(n: int) -> list[int]:
    """Ports the OS hands out, all bound at once so they differ, then released for `up` to take."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_up(out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "up", "--out", str(out), "--partners", "8",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True)


class _Stdout:
    """The child's stdout, read on a thread so that every wait for a line is bounded."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc, self.lines = proc, queue.Queue[str | None]()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, marker: str | None, timeout: float) -> list[str]:
        """Lines up to the one containing `marker` (None: up to the end of the stream)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                if marker is None:
                    return seen
                break
            seen.append(line)
            if marker is not None and marker in line:
                return seen
        raise AssertionError(f"no {marker or 'end of output'} within {timeout} s (exit {self.proc.poll()}): {seen}")


def _parse(table: list[str]) -> tuple[str, str, dict[str, dict[str, str]]]:
    urls = {line.split()[0]: line.split()[1].rstrip("/") for line in table if line.startswith(("portal ", "inbox "))}
    header = next(i for i, line in enumerate(table) if line.startswith("role "))
    creds: dict[str, dict[str, str]] = {}
    for line in table[header + 1:]:
        if not line.strip():
            break
        role, username, password, notify = line.rsplit(None, 3)
        creds.setdefault(role.strip(), {"username": username, "password": password, "notification_email": notify})
    return urls["portal"], urls["inbox"], creds


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def test_up_table_login_and_ctrl_c(tmp_path: Path) -> None:
    portal_port, http_port, smtp_port = _free_ports(3)
    out = tmp_path / "up"
    proc = _start_up(out, "--portal-port", str(portal_port), "--inbox-http-port", str(http_port),
                     "--smtp-port", str(smtp_port), "--seed", "4", "--processes", "2")
    pids: list[int] = []
    try:
        stdout = _Stdout(proc)
        portal_url, inbox_url, creds = _parse(stdout.until(READY_LINE, timeout=120))
        assert portal_url == f"http://127.0.0.1:{portal_port}"
        assert inbox_url == f"http://127.0.0.1:{http_port}"
        assert {"agency (shared inbox)", "reseller", "affiliate"} <= set(creds)
        pids = ready_pids(out / "logs" / "portal.log", out / "logs" / "inbox.log")
        assert len(pids) == 2 and all(alive(p) for p in pids)
        workers = children(pids[0])        # the portal's supervisor pre-forked --processes 2
        assert len(workers) == 2, workers
        pids += workers

        user = creds["reseller"]
        browser = Portal(portal_url, timeout=30)
        page = browser.login(user["username"], user["password"])
        assert page.page == "partner-verify", (page.status, page.reasons)
        code = Inbox(inbox_url).wait_code(user["notification_email"], ref=page.ref, timeout=60)
        assert browser.verify(code).page == "partner-account"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert "stopping" in stdout.until(None, timeout=30)
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
        assert not [p for p in pids if alive(p)]
    finally:
        _stop(proc)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("flag", ["--portal-port", "--inbox-http-port", "--smtp-port"])
def test_up_port_in_use_is_one_line_and_exit_2(tmp_path: Path, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = tmp_path / "up"
        proc = _start_up(out, flag, str(port))
        try:
            stdout, err = proc.communicate(timeout=120)
        finally:
            _stop(proc)
    assert proc.returncode == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Address already in use" in lines[0] and f"{port}" in lines[0] and flag in lines[0], lines[0]
    logs = out / "logs"
    assert not [p for p in ready_pids(logs / "portal.log", logs / "inbox.log") if alive(p)]  # the inbox started first is gone


def test_up_bad_ports_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--portal-port", "70000"])
    assert exit_.value.code == 2
    assert "not a port number (0-65535): '70000'" in capsys.readouterr().err
    assert main(["up", "--portal-port", "5025", "--smtp-port", "5025"]) == 2
    assert capsys.readouterr().err.strip() == "mfa-harness: --portal-port and --smtp-port are both 5025"


@pytest.mark.parametrize("value, said", [("0", "must be >= 1: '0'"), ("two", "not an integer: 'two'"),
                                         ("65", "must be <= 64: '65'")])
def test_up_bad_processes_are_usage_errors(value: str, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--processes", value])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"mfa-harness: error: argument --processes: {said}"


def test_up_fewer_processes_than_the_bug_needs_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--bug", "per-process-secret", "--processes", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("mfa-harness: --processes 1: --bug per-process-secret shows only "
                                               "with 2 portal processes or more")
