"""Fixtures of the third-party target sites: one real inbox per session, sites started per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sitekit import Inbox, start_inbox, start_site

from mfa_harness.scenarios.stack import Child

Site = tuple[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def target_inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    child = start_inbox(tmp_path_factory.mktemp("inbox"))
    try:
        yield Inbox(child)
    finally:
        child.stop()


@pytest.fixture(scope="module")
def start_target(tmp_path_factory: pytest.TempPathFactory, target_inbox: Inbox) -> Iterator[Callable[..., Site]]:
    """`start_target(module, *options)` -> (url, accounts); every site started is stopped after the module.

    All sites of one module share one database (and its keys): a second instance with other
    library settings starts in seconds (no migrations, no seeding). Tests keep to their own accounts.
    """
    started: list[Child] = []
    db: dict[str, Path] = {}

    def start(module: str, *options: str) -> Site:
        out: Path = tmp_path_factory.mktemp(module)
        child, accounts = start_site(module, out, target_inbox, db.setdefault(module, out / "site.db"), *options)
        started.append(child)
        return child.ready["url"], accounts

    try:
        yield start
    finally:
        codes = [child.stop() for child in started]
    assert codes == [0] * len(codes), codes                    # SIGTERM stops each site cleanly
