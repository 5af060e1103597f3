"""Fixtures: the real portal and inbox as subprocesses on OS-chosen loopback ports, and a
helper that runs the real `locust` headless against them (see loadtests_stack.py).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Import Locust here without its gevent monkey-patching: the unit tests use a few of its pure
# classes, and a patched pytest process would change sockets and threads under every other
# test of the session. The variable is removed again so `locust` subprocesses patch as usual.
if "LOCUST_SKIP_MONKEY_PATCH" not in os.environ:
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    try:
        import locust  # noqa: F401
    finally:
        del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

from loadtests_stack import Proc, Stack, start  # noqa: E402


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start a fresh inbox and portal (harness mode, 60 seeded partners, cheap passwords) at time
    scale 60, optionally with planted bugs; everything started is stopped at teardown."""
    procs: list[Proc] = []

    def make(*bugs: str) -> Stack:
        scale, epoch = 60.0, time.time()
        py = sys.executable
        inbox = start([py, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0", "--time-scale", f"{scale:g}",
                       "--epoch", repr(epoch)], tmp_path / "inbox.log", "inbox")
        procs.append(inbox)
        bug_args = [a for b in bugs for a in ("--bug", b)]
        portal = start([py, "-m", "mfa_harness.server", "--harness", "--port", "0", "--db", ":memory:",
                        "--smtp-port", str(inbox.ready["smtp_port"]), "--partners", "60", "--seed", "7",
                        "--time-scale", f"{scale:g}", "--epoch", repr(epoch), "--password-profile", "cheap",
                        *bug_args], tmp_path / "portal.log", "portal")
        procs.append(portal)
        return Stack(inbox, portal, epoch, scale, tmp_path)

    try:
        yield make
    finally:
        for p in reversed(procs):
            p.stop()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A correct portal and its inbox."""
    return make_stack()
