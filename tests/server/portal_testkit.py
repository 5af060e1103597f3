"""Helpers for the portal tests: the aiosmtpd sink, the portal process, a form-filling browser.

A module of its own (not conftest) so that test modules can import it by a unique name.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
from aiosmtpd.smtp import SMTP

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')
CODE = re.compile(r"Your verification code is: (\d{6})")
REF = re.compile(r"Request reference: ([A-Z0-9]{8})")


class Mail:
    """A received message with the fields tests match on, parsed once at receipt."""

    def __init__(self, content: bytes, rcpt_tos: list[str]) -> None:
        self.msg = email.message_from_bytes(content, policy=email.policy.default)
        self.headers = {name: str(self.msg[name]) for name in ("To", "Subject", "Message-ID", "From")}
        self.headers["X-Envelope-To"] = ",".join(rcpt_tos)
        part = self.msg.get_body(preferencelist=("plain",))
        self.text = part.get_content() if part is not None else ""

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def get_body(self, preferencelist: tuple[str, ...]):
        return self.msg.get_body(preferencelist=preferencelist)


class SinkHandler:
    """Stores accepted messages; `replies` is a queue of forced DATA replies (e.g. "451 later")."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.replies: list[str] = []
        self.refused: list[str] = []
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        mail = Mail(envelope.content, envelope.rcpt_tos)  # parse outside the lock
        with self.cond:
            if self.replies:
                reply = self.replies.pop(0)
                self.refused.append(reply)
                self.cond.notify_all()
                return reply
            self.messages.append(mail)
            self.cond.notify_all()
        return "250 OK"


class Sink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        self.server = fut.result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _start(self):
        return await self.loop.create_server(lambda: SMTP(self.handler, hostname="sink.local"), "127.0.0.1", 0)

    def close(self) -> None:
        async def _stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def wait_for(self, predicate: Callable[[Mail], bool], timeout: float = 30.0,
                 start: int = 0) -> Mail:
        """The first message from index `start` on that matches, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        seen = start
        with self.handler.cond:
            while True:
                for msg in self.handler.messages[seen:]:
                    if predicate(msg):
                        return msg
                seen = max(seen, len(self.handler.messages))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching message within {timeout}s; have {len(self.handler.messages)}")
                self.handler.cond.wait(left)

    def wait_code(self, to: str, ref: str | None = None, timeout: float = 30.0) -> tuple[str, Mail]:
        def match(msg) -> bool:
            text = body_text(msg)
            return msg["To"] == to and "verification code" in msg["Subject"] and (ref is None or f"reference: {ref}" in text)

        msg = self.wait_for(match, timeout)
        return CODE.search(body_text(msg)).group(1), msg

    def count(self) -> int:
        with self.handler.cond:
            return len(self.handler.messages)


def body_text(msg: Mail) -> str:
    return msg.text




class Portal:
    """A running `python -m mfa_harness.server` process."""

    def __init__(self, proc: subprocess.Popen, url: str, pid: int, db: str, stderr_path: Path) -> None:
        self.proc, self.url, self.pid, self.db, self.stderr_path = proc, url, pid, db, stderr_path

    def events(self, after: int = 0) -> list[dict]:
        r = requests.get(f"{self.url}/_harness/events", params={"after": after, "limit": 10000}, timeout=30)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line]

    def wait_event(self, predicate: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events():
                if predicate(e):
                    return e
            if time.monotonic() > deadline:
                raise AssertionError("event not seen in time")
            time.sleep(0.1)

    def accounts(self, program: str | None = None) -> list[dict]:
        data = requests.get(f"{self.url}/_harness/accounts", timeout=30).json()
        return [a for a in data if program is None or a["program"] == program]

    def advance(self, seconds: float) -> float:
        return requests.post(f"{self.url}/_harness/clock", json={"advance": seconds}, timeout=30).json()["offset"]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(20)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_portal(tmp_path: Path, smtp_port: int, *extra: str, db: str | None = None, partners: int = 12,
                 harness: bool = True, timeout: float = 90.0, seed: int | None = 7) -> Portal:
    db = db or str(tmp_path / "portal.db")
    stderr_path = tmp_path / f"portal-{time.monotonic_ns()}.err"
    cmd = [PYTHON, "-m", "mfa_harness.server", "--port", "0", "--smtp-port", str(smtp_port), "--partners", str(partners),
           *(["--seed", str(seed)] if seed is not None else []), "--db", db, "--password-profile", "cheap", *(["--harness"] if harness else []), *extra]
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
    line_box: list[str] = []
    reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line_box or not line_box[0]:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"portal did not get ready: {stderr_path.read_text(errors='replace')[-2000:]}")
    ready = json.loads(line_box[0])
    assert ready["ready"] == "portal"
    return Portal(proc, ready["url"], ready["pid"], db, stderr_path)




class Browser:
    """A requests.Session that follows the portal's forms by hand (no automatic redirects)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.s = requests.Session()

    def get(self, path: str, **kw) -> requests.Response:
        return self.s.get(self.base + path, allow_redirects=False, timeout=60, **kw)

    def post(self, path: str, data: dict | None = None, xsrf_from: str | None = None, **kw) -> requests.Response:
        data = dict(data or {})
        if "_xsrf" not in data:
            data["_xsrf"] = self.xsrf(xsrf_from or path)
        return self.s.post(self.base + path, data=data, allow_redirects=False, timeout=60, **kw)

    def xsrf(self, page: str) -> str:
        r = self.get(page)
        m = XSRF.search(r.text)
        assert m, f"no _xsrf on {page}: {r.status_code}"
        return m.group(1)

    def login(self, username: str, password: str) -> requests.Response:
        return self.post("/partner/login", {"username": username, "password": password})

    def verify(self, code: str) -> requests.Response:
        return self.post("/partner/verify", {"code": code})


def page_of(r: requests.Response) -> str | None:
    m = re.search(r'<body data-page="([^"]+)"', r.text)
    return m.group(1) if m else None


def reason_of(r: requests.Response) -> str | None:
    m = re.search(r'data-reason="([^"]+)"', r.text)
    return m.group(1) if m else None


def ref_of(r: requests.Response) -> str | None:
    m = re.search(r'data-ref="([A-Z0-9]{8})"', r.text)
    return m.group(1) if m else None


def strip_volatile(html: str) -> str:
    """Remove the per-render parts (xsrf token, echoed username) to compare two pages."""
    html = re.sub(r'name="_xsrf" value="[^"]*"', "", html)
    return re.sub(r'(id="username"[^>]*value=")[^"]*"', r'\1"', html)


def sign_in(portal: Portal, sink: Sink, account: dict) -> tuple[Browser, str, str]:
    """Log in with password; return (browser on the verify page, emailed code, challenge ref)."""
    b = Browser(portal.url)
    r = b.login(account["username"], account["password"])
    assert r.status_code == 303, r.text
    r = b.get("/partner/verify")
    assert page_of(r) == "partner-verify"
    ref = ref_of(r)
    code, _ = sink.wait_code(account["notification_email"], ref)
    return b, code, ref


def concurrent_verify(portal: Portal, browser: Browser, code: str, n: int = 20) -> list[int]:
    """Submit one code `n` times at once, each on its own connection with the same cookies."""
    token = browser.xsrf("/partner/verify")
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        s = requests.Session()
        s.cookies.update(browser.s.cookies)
        barrier.wait(30)
        r = s.post(portal.url + "/partner/verify", data={"_xsrf": token, "code": code}, allow_redirects=False,
                   timeout=60, headers={"Connection": "close"})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(statuses) == n
    return statuses


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_count(portal: Portal, event: str, n: int, timeout: float = 60.0) -> list[dict]:
    """Poll the portal's events until `n` lines named `event` exist; return them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in portal.events() if e["event"] == event]
        if len(found) >= n:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(found)} of {n} {event} events within {timeout}s")
        time.sleep(0.1)
