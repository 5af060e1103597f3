"""Fixtures: the real inbox process on OS-chosen loopback ports (helpers in fake_smtp_helpers)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from fake_smtp_helpers import InboxProcess, start_inbox


@pytest.fixture
def inbox_factory() -> Iterator[Callable[..., InboxProcess]]:
    """Start inbox processes with given options; all are stopped at teardown."""
    started: list[InboxProcess] = []

    def factory(*args: str) -> InboxProcess:
        p = start_inbox(*args)
        started.append(p)
        return p

    try:
        yield factory
    finally:
        for p in started:
            p.stop()


@pytest.fixture(scope="module")
def shared_inbox() -> Iterator[InboxProcess]:
    """One inbox per test module (tests use distinct recipients and reset faults)."""
    p = start_inbox("--time-scale", "1")
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def inbox(shared_inbox: InboxProcess) -> Iterator[InboxProcess]:
    """The module's inbox with an empty fault plan before and after the test."""
    shared_inbox.put_faults([])
    try:
        yield shared_inbox
    finally:
        shared_inbox.put_faults([])
        shared_inbox.request("PUT", "/api/v1/chaos", {})


_counter = [0]


@pytest.fixture
def addr() -> Callable[[str], str]:
    """Unique recipient addresses per test, so a shared inbox never mixes tests."""

    def make(name: str = "user") -> str:
        _counter[0] += 1
        return f"{name}.{_counter[0]}.{os.getpid()}@example.com"

    return make
