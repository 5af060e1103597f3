"""pytest plugin (entry point `pytest11`): the reference stack as fixtures.

    @pytest.mark.mfa_bugs("code-not-bound")      # optional: planted portal bugs
    def test_teammate_code(mfa_stack, portal, inbox, clock): ...

`mfa_stack` starts real portal and inbox processes on free loopback ports (harness mode) and
stops them after the test; `portal` is a step-by-step browser, `inbox` waits for codes and
`clock` advances the portal's clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .browser import Inbox, Portal, http_json
from .stack import LocalStack, StackConfig


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mfa_bugs(*names): start the mfa_stack portal with these planted bugs")
    config.addinivalue_line("markers", "mfa_policy(**overrides): portal policy overrides for mfa_stack")


@dataclass
class MfaStack:
    """A running portal + inbox pair and the seeded accounts."""

    portal_url: str
    inbox_url: str
    accounts: list[dict[str, Any]]
    stack: LocalStack

    def accounts_of(self, program: str) -> list[dict[str, Any]]:
        return [a for a in self.accounts if a["program"] == program]

    def team(self, size: int = 2) -> list[dict[str, Any]]:
        """Members of one agency team (they share a notification address)."""
        teams: dict[str, list[dict[str, Any]]] = {}
        for a in self.accounts_of("agency"):
            if a.get("team"):
                teams.setdefault(str(a["team"]), []).append(a)
        for members in teams.values():
            if len(members) >= size:
                return members[:size]
        raise LookupError(f"no agency team with {size} members in the seeded accounts")

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        from .collect import portal_events

        return portal_events(self.portal_url, after=after)

    def browser(self, *, cookies: bool = True) -> Portal:
        return Portal(self.portal_url, cookies=cookies)


class Clock:
    """Moves the portal's scenario clock forward (harness endpoint)."""

    def __init__(self, portal_url: str):
        self.portal_url = portal_url

    def advance(self, seconds: float) -> float:
        status, body = http_json("POST", self.portal_url + "/_harness/clock", {"advance": seconds})
        if status != 200:
            raise RuntimeError(f"clock advance refused: {status} {body}")
        return float(body["offset"])


def _policy_toml(tmp: Path, overrides: dict[str, Any]) -> Path | None:
    if not overrides:
        return None
    from .runner import write_toml

    return write_toml(tmp / "policy.toml", overrides)


@pytest.fixture
def mfa_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MfaStack]:
    bugs = [b for m in request.node.iter_markers("mfa_bugs") for b in m.args]
    overrides: dict[str, Any] = {}
    for m in request.node.iter_markers("mfa_policy"):
        overrides.update(m.kwargs)
    stack = LocalStack(StackConfig(out=tmp_path / "mfa-stack", epoch=time.time(), time_scale=1.0, seed=1,
                                   partners=12, bugs=bugs, policy_file=_policy_toml(tmp_path, overrides)))
    try:
        stack.start()
        status, accounts = http_json("GET", stack.portal_url + "/_harness/accounts")
        assert status == 200, accounts
        yield MfaStack(stack.portal_url, stack.inbox_url, accounts, stack)
    finally:
        stack.stop()


@pytest.fixture
def portal(mfa_stack: MfaStack) -> Portal:
    return mfa_stack.browser()


@pytest.fixture
def inbox(mfa_stack: MfaStack) -> Inbox:
    return Inbox(mfa_stack.inbox_url)


@pytest.fixture
def clock(mfa_stack: MfaStack) -> Clock:
    return Clock(mfa_stack.portal_url)
