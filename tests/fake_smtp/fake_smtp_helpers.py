"""Helpers for the inbox tests: start the real process, talk HTTP and SMTP to it.

Every process is started with port 0, found through its ready line, and always torn down
(SIGTERM, then kill after a timeout).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import smtplib
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from mfa_harness.harness_http import WAIT_MARGIN, InboxApi, Response

READY_TIMEOUT = 30.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class InboxProcess:
    proc: subprocess.Popen[bytes]
    url: str
    smtp_host: str
    smtp_port: int
    ready: dict[str, Any]

    @property
    def api(self) -> InboxApi:
        """The project's inbox client (mfa_harness.harness_http) on this process."""
        return InboxApi(self.url, timeout=60.0)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 60.0,
                raw_body: bytes | None = None) -> Response:
        """Any status is an answer; `raw_body` is sent as JSON too (malformed-body tests)."""
        headers = {"Content-Type": "application/json"} if raw_body is not None else None
        return self.api.request(method, path, body, timeout=timeout, raw_body=raw_body, headers=headers)

    def get(self, path: str, timeout: float = 60.0) -> Response:
        return self.request("GET", path, timeout=timeout)

    def get_json(self, path: str) -> Any:
        r = self.get(path)
        assert r.status == 200, (path, r.status, r.body)
        return r.json()

    def put_faults(self, rules: list[dict[str, Any]], seed: int | None = 1) -> None:
        self.api.set_faults(rules, seed)

    def deliveries(self, after: int = 0) -> list[dict[str, Any]]:
        return self.api.deliveries(after)

    def last_event(self) -> int:
        lines = self.deliveries()
        return lines[-1]["seq_event"] if lines else 0

    def wait(self, query: str, after: int = 0, timeout: float = 30, folder: str = "inbox") -> Response:
        """The raw long-poll answer (tests look at 204s and 400s too; InboxApi.wait is the parsed one)."""
        qs = urllib.parse.urlencode({"query": query, "after": after, "timeout": timeout, "folder": folder})
        return self.get(f"/api/v1/wait?{qs}", timeout=timeout + WAIT_MARGIN)

    def smtp(self, timeout: float = 30.0) -> smtplib.SMTP:
        return smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=timeout)

    def send(self, to: str | list[str], subject: str = "Your Partner Portal verification code",
             body: str = "Your verification code is: 123456\r\n", sender: str = "portal@example.org",
             message_id: str | None = None, extra_headers: str = "") -> str:
        rcpts = [to] if isinstance(to, str) else to
        mid = message_id or f"<{time.time_ns()}.{os.getpid()}@test>"
        msg = (f"From: Portal <{sender}>\r\nTo: {', '.join(rcpts)}\r\nSubject: {subject}\r\n"
               f"Message-ID: {mid}\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}")
        with self.smtp() as s:
            s.sendmail(sender, rcpts, msg.encode("utf-8"))
        return mid.strip("<>")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode


def start_inbox(*args: str, env: dict[str, str] | None = None) -> InboxProcess:
    """Start ``python -m mfa_harness.fake_smtp`` on ports 0 and wait for its ready line."""
    cmd = [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT
    line = b""
    try:
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise RuntimeError(f"inbox not ready within {READY_TIMEOUT}s")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"inbox exited early ({proc.wait(10)}): {err}")
            line += chunk
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    finally:
        sel.close()
    ready = json.loads(line.decode().splitlines()[0])
    return InboxProcess(proc, ready["url"], ready["smtp_host"], ready["smtp_port"], ready)


