"""Locust checks its target before any load (issue 12): an unreachable inbox, a clock at another time
scale, a broken inbox, and what the summary says about the load that actually ran."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from loadtests_stack import Stack


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broken_inbox() -> Iterator[str]:
    """An inbox API that answers /api/v1/info and fails every other request with 500."""

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.startswith("/api/v1/info"):
                body = json.dumps({"Version": "broken"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(500)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def refusal(run) -> str:
    lines = [line for line in run.log.splitlines() if line.startswith("mfa-harness: ")]
    assert run.code == 2 and len(lines) == 1, (run.code, run.log[-2000:])
    assert not (run.out / "history.jsonl").exists() or not run.history(), "load ran before the refusal"
    return lines[0]


def test_an_unreachable_inbox_is_refused_before_any_load(stack: Stack) -> None:
    """It used to start every user, fail every code wait, and exit 0."""
    url = f"http://127.0.0.1:{closed_port()}"
    run = stack.locust("--inbox-url", url, users=2, run_time=5, personas="careful=1")
    assert f"GET {url}/api/v1/info: no answer" in refusal(run)


def test_a_time_scale_other_than_the_stacks_is_refused(stack: Stack) -> None:
    """The README's `--time-scale 30` against a stack at another scale made every metric 30x off."""
    run = stack.locust("--time-scale", "30", users=2, run_time=5, personas="careful=1")
    line = refusal(run)
    assert f"runs at time scale {stack.time_scale:g} and Locust at 30" in line
    assert f"give --time-scale {stack.time_scale:g}" in line


def test_a_broken_inbox_makes_locust_exit_non_zero(stack: Stack, broken_inbox: str) -> None:
    run = stack.locust("--inbox-url", broken_inbox, "--code-timeout", "30", users=2, run_time=4,
                       personas="careful=1")
    assert run.code == 1, run.log[-2000:]          # it used to be 0
    summary = json.loads((run.out / "summary.json").read_text())
    assert summary["outcomes"]["ok"] == 0 and summary["inbox"]["failures"] > 0


def test_the_summary_records_the_load_that_ran(stack: Stack) -> None:
    run = stack.locust(users=3, run_time=3, personas="careful=1")
    assert run.code == 0, run.log[-2000:]
    facts = json.loads((run.out / "summary.json").read_text())["run"]
    assert facts["users_asked"] == 3 and facts["users_peak"] == 3 and facts["stopped_early"] is None
    assert facts["run_time_asked_s"] == 3 and facts["run_time_s"] >= 2.5


def test_a_run_stopped_before_its_run_time_says_so(stack: Stack) -> None:
    """Workers lost or a stop from outside: the summary used to read like a full run."""
    import os
    import signal
    import time

    running = stack.start_locust(users=2, run_time=120, personas="careful=1")
    history = running.out / "history.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (history.exists() and '"op":"flow"' in history.read_text()):
        time.sleep(0.2)        # the history file is the only sign of progress Locust gives from outside
    os.killpg(running.pid, signal.SIGTERM)
    run = running.wait(120)
    facts = json.loads((run.out / "summary.json").read_text())["run"]
    assert facts["stopped_early"] and "of 120 wall seconds" in facts["stopped_early"], facts
    assert facts["run_time_s"] < 100
