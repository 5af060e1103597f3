"""The real portal, inbox and `locust` as subprocesses for the loadtests tests.

A module of its own (not the conftest) so test files can import it by a name no other test
folder uses: `from conftest import ...` picks whichever folder's conftest pytest loaded last.
Processes are always torn down (SIGTERM, then kill), ready lines are awaited with a deadline,
and every wait is bounded; nothing here sleeps to "let things settle".
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "loadtests" / "locustfile.py"
READY_TIMEOUT = 60.0


@dataclass
class Proc:
    popen: subprocess.Popen
    ready: dict[str, Any]
    stderr_path: Path

    @property
    def url(self) -> str:
        return str(self.ready["url"])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=20)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start(argv: list[str], log: Path, kind: str) -> Proc:
    """Start a process that prints one JSON ready line on stdout; wait for it (bounded)."""
    err = open(log, "wb")  # the child keeps its own copy of the descriptor; ours is closed below
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO)
    err.close()
    deadline = time.time() + READY_TIMEOUT
    buf = b""
    assert popen.stdout is not None
    fd = popen.stdout.fileno()
    while time.time() < deadline:
        if b"\n" in buf:
            break
        if popen.poll() is not None:
            break
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    line = buf.split(b"\n", 1)[0]
    try:
        ready = json.loads(line)
    except ValueError:
        ready = {}
    if ready.get("ready") != kind:
        popen.kill()
        popen.wait(timeout=20)
        raise RuntimeError(f"{kind} did not become ready: stdout {buf[:500]!r}; stderr: "
                           f"{log.read_text(errors='replace')[-2000:]}")
    return Proc(popen, ready, log)


def free_port() -> int:
    """A loopback TCP port the OS reports free (for Locust's master, which cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """A portal and an inbox wired together, both on the same scenario time axis."""

    inbox: Proc
    portal: Proc
    epoch: float
    time_scale: float
    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def locust(self, *args: str, users: int, run_time: int, personas: str, name: str = "run",
               timeout: float = 180.0) -> LocustRun:
        """Run the real locust headless; returns exit code and output files (bounded by `timeout`)."""
        return self.start_locust(*args, users=users, run_time=run_time, personas=personas, name=name).wait(timeout)

    def start_locust(self, *args: str, users: int, run_time: int, personas: str, name: str = "run") -> RunningLocust:
        """Start the real locust headless in its own session and return at once (see `RunningLocust.wait`)."""
        out = self.workdir / name
        out.mkdir(parents=True, exist_ok=True)
        if "--processes" in args:
            # Locust's master listens on 5557 on every interface by default: keep it on loopback and on a
            # port the OS says is free, so parallel test runs never connect to each other's workers.
            port = free_port()
            args = (*args, "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                    "--master-host", "127.0.0.1", "--master-port", str(port))
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
                "-r", str(users), "-t", f"{run_time}s", "--host", self.portal.url,
                "--inbox-url", self.inbox.url, "--time-scale", f"{self.time_scale:g}", "--epoch", repr(self.epoch),
                "--history-file", str(out / "history.jsonl"), "--summary-file", str(out / "summary.json"),
                "--csv", str(out / "stats"), "--personas", personas, "--only-summary", *args]
        with open(out / "locust.log", "wb") as log:      # the child keeps its own copy of the descriptor
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=REPO, start_new_session=True)
        return RunningLocust(popen, out)


@dataclass
class RunningLocust:
    """A `locust` process started by `Stack.start_locust`; `wait` (or `kill`) must be called."""

    popen: subprocess.Popen
    out: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait(self, timeout: float = 180.0) -> LocustRun:
        """Wait for the exit (bounded); on timeout kill its whole session and fail with the log."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"locust did not finish in {timeout} s; log: "
                                 f"{(self.out / 'locust.log').read_text(errors='replace')[-3000:]}") from None
        finally:
            if self.popen.poll() is None:
                self.kill()
        return LocustRun(code, self.out)

    def kill(self) -> None:
        """SIGKILL the session (master and forked workers) and reap the master."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=30)


@dataclass
class LocustRun:
    code: int
    out: Path

    @property
    def log(self) -> str:
        return (self.out / "locust.log").read_text(errors="replace")

    def history(self) -> list[dict[str, Any]]:
        path = self.out / "history.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def summary(self) -> dict[str, Any]:
        return json.loads((self.out / "summary.json").read_text(encoding="utf-8"))


@contextmanager
def canned_pages(pages: dict[str, tuple[int, bytes]],
                 other: tuple[int, bytes] = (404, b"no such page")) -> Iterator[str]:
    """A loopback HTTP server answering GET per path from `pages` ((status, body), the query string
    ignored; any other path gets `other`), for the answers a foreign portal or inbox may give; yields
    its base URL."""

    class Answers(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            status, body = pages.get(self.path.split("?", 1)[0], other)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
