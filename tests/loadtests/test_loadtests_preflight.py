"""Locust checks its target before any load (issue 12): an unreachable inbox, a clock at another time
scale, a broken inbox, and what the summary says about the load that actually ran."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from loadtests_stack import Stack, canned_pages


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broken_inbox() -> Iterator[str]:
    """An inbox API that answers /api/v1/info and fails every other request with 500."""
    with canned_pages({"/api/v1/info": (200, json.dumps({"Version": "broken"}).encode())},
                      other=(500, b"broken")) as url:
        yield url


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


@pytest.fixture
def answers() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    """A server whose answer per path the test sets: (status, body); any other path is 404."""
    pages: dict[str, tuple[int, bytes]] = {}
    with canned_pages(pages) as base:
        yield base, pages


def test_preflight_checks_answer_in_one_line_without_locust(answers: tuple[str, dict[str, tuple[int, bytes]]]) -> None:
    """The probes themselves (fast: no Locust): no answer, a status, a scale, and what a foreign target may lack."""
    from mfa_harness.loadtests.preflight import PreflightError, check_inbox, check_portal

    url, pages = answers
    closed = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(PreflightError, match=rf"^GET {closed}/api/v1/info: no answer \(.*refused.*\)$"):
        check_inbox(closed, 60.0)
    with pytest.raises(PreflightError, match=r"GET /api/v1/info answered 404; is it a Mailpit-compatible"):
        check_inbox(url, 60.0)
    pages["/api/v1/info"] = (200, b'{"TimeScale": 30}')
    with pytest.raises(PreflightError, match="runs at time scale 30 and Locust at 60: give --time-scale 30"):
        check_inbox(url + "/", 60.0)
    check_inbox(url, 30.0)
    pages["/api/v1/info"] = (200, b"<html>not the harness inbox</html>")      # answers: only that is checked
    check_inbox(url, 60.0)
    check_portal(url, 60.0)                                   # a foreign portal: no /_harness/clock is fine
    pages["/_harness/clock"] = (200, b'{"scale": 60.0, "offset": 0}')
    check_portal(url, 60.0)
    with pytest.raises(PreflightError, match="the portal at .* runs at time scale 60 and Locust at 1"):
        check_portal(url, 1.0)
    pages["/_harness/clock"] = (503, b"down")
    with pytest.raises(PreflightError, match=r"--host .*: the portal answered 503"):
        check_portal(url, 60.0)
