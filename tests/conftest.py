"""The fast tier: `pytest -m fast` runs the pure tests (no process, no socket) in seconds.

Nobody marks a test `fast` by hand: a test is in the tier when nothing it can reach starts a
process or opens a socket, read from the code (`fast_tier.py` says how), and it carries no `slow`
marker and is not a Hypothesis test. The reading is checked while the test runs: a fast test
that starts a process or opens a socket fails, naming what it did, so the tier stays pure.
`pytest -m fast` also skips importing the test files that cannot hold a pure test.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fast_tier import Purity, impurity, may_hold_pure_tests

GUARD = "_fast_tier_stays_pure"     # the autouse fixture below, which every test uses


def _fast_only(config: pytest.Config) -> bool:
    return (config.option.markexpr or "").strip() == "fast"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m fast`, a test file none of whose tests can be pure is not even imported, nor a
    folder without such a file (nor, then, its conftest.py: the browser tests need Playwright)."""
    if not _fast_only(config):
        return None
    if collection_path.is_dir():
        files = collection_path.rglob("test_*.py")
    elif collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        files = iter([collection_path])
    else:
        return None
    return True if not any(may_hold_pure_tests(f) for f in files) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    purity = Purity()
    for item in items:
        if impurity(item, purity, GUARD) is None:
            item.add_marker(pytest.mark.fast)


class NotPure(AssertionError):
    """A test of the fast tier started a process or opened a socket."""


def _refuse(what: str):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotPure(f"a fast-tier test must not {what}; if it needs to, it does not belong in the tier "
                      "(tests/fast_tier.py says how the tier is chosen)")
    return refuse


@pytest.fixture(autouse=True)
def _fast_tier_stays_pure(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a fast test runs, starting a process or opening a socket fails it."""
    if not request.node.get_closest_marker("fast"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "_execute_child", _refuse("start a process"))
        for name in ("fork", "posix_spawn", "posix_spawnp", "system"):
            if hasattr(os, name):
                mp.setattr(os, name, _refuse(f"call os.{name}"))
        mp.setattr(socket.socket, "bind", _refuse("bind a socket"))
        mp.setattr(socket.socket, "connect", _refuse("connect a socket"))
        yield
