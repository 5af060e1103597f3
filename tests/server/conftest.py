"""Fixtures for the portal tests: a local aiosmtpd sink and the real portal process, always torn down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from portal_testkit import Portal, Sink, start_portal


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    try:
        yield s
    finally:
        s.close()

@pytest.fixture
def portal_factory(tmp_path: Path) -> Iterator[Callable[..., Portal]]:
    started: list[Portal] = []

    def factory(smtp_port: int, *extra: str, **kw) -> Portal:
        p = start_portal(tmp_path, smtp_port, *extra, **kw)
        started.append(p)
        return p

    try:
        yield factory
    finally:
        for p in started:
            p.stop()



@pytest.fixture
def portal(sink: Sink, portal_factory) -> Portal:
    return portal_factory(sink.port)
