"""pytest plugin (entry point `pytest11`): the reference stack as fixtures.

    @pytest.mark.mfa_bugs("code-not-bound")                 # optional: planted portal bugs
    @pytest.mark.mfa_inbox_faults({"kind": "delay", "distribution": "fixed", "seconds": 90})
    def test_teammate_code(mfa_stack, mfa_portal, mfa_inbox, mfa_clock): ...

Every fixture name starts with `mfa_`, so installing the harness injects nothing that could
shadow a project's own `portal` or `inbox`. The short names of earlier versions (`portal`,
`inbox`, `clock`) come back only when asked for: `mfa_short_names = true` in the ini file.

`mfa_stack` starts real portal and inbox processes on free loopback ports (harness mode) and
stops them after the test; with `mfa_stack_scope = module` (or `session`) one stack serves
every test of a module (or of the run). What a shared stack keeps between tests is listed in
`MfaStack`'s docstring.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mfa_harness.harness_http import HttpError, PortalHarness
from mfa_harness.timebase import Timebase

from .browser import Inbox, Portal
from .stack import LocalStack, StackConfig

SCOPES = ("function", "module", "session")
# What a step's `.reason` can be (the portal's `data-reason` markers, server/handlers.py MESSAGES);
# None means no error: the step went through.
VERIFY_REASONS = {
    "wrong": "verify: not the code sent for this login attempt (a teammate's, an older one, a typo)",
    "expired": "verify: the code outlived the policy's code lifetime (5 minutes), or its login was voided",
    "too_many": "verify: the attempt limit of this login was reached; sign in again",
    "no_challenge": "verify: no login is waiting for a code (used already, or never started)",
    "rate_limited": "resend: inside the cooldown or beyond a cap (429 with Retry-After)",
    "generic_login": "login: unknown user, wrong password or locked account (one message for all)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mfa_stack_scope", "scope of the mfa_stack fixture: function (default), module or session",
                  default="function")
    parser.addini("mfa_short_names", "also offer the fixtures as portal, inbox and clock (before 0.2)",
                  type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mfa_bugs(*names): start the mfa_stack portal with these planted bugs")
    config.addinivalue_line("markers", "mfa_policy(**overrides): portal policy overrides for mfa_stack")
    config.addinivalue_line("markers", "mfa_inbox_faults(*rules, seed=None): inbox fault rules for this test "
                            "(fake_smtp's plan, e.g. {'kind': 'delay', 'distribution': 'fixed', 'seconds': 90})")
    if config.getini("mfa_short_names"):
        from . import pytest_short_names

        config.pluginmanager.register(pytest_short_names, "mfa_harness_short_names")


def _stack_scope(fixture_name: str, config: pytest.Config) -> str:
    scope = str(config.getini("mfa_stack_scope") or "function").strip()
    if scope not in SCOPES:
        raise pytest.UsageError(f"mfa_stack_scope = {scope!r}: must be one of {', '.join(SCOPES)}")
    return scope


@dataclass
class MfaStack:
    """A running portal + inbox pair and the seeded accounts.

    A shared stack (`mfa_stack_scope = module|session`) keeps between tests: the portal's
    database (accounts, sessions, rate-limit counters), its clock offset (`mfa_clock.advance`
    only moves forward) and the inbox's mail. Each `mfa_inbox` still sees only mail that arrives
    during its own test, fault rules set in a test are cleared after it, and `take()` hands an
    account to one test only, so tests that take their accounts do not disturb each other.
    """

    portal_url: str
    inbox_url: str
    accounts: list[dict[str, Any]]
    stack: LocalStack
    _taken: set[str] = field(default_factory=set)

    def accounts_of(self, program: str) -> list[dict[str, Any]]:
        """Every seeded account of `program` (agency, reseller or affiliate)."""
        return [a for a in self.accounts if a["program"] == program]

    def take(self, program: str = "reseller") -> dict[str, Any]:
        """An account of `program` no other test of this stack has taken."""
        for acc in self.accounts_of(program):
            if acc["username"] not in self._taken:
                self._taken.add(acc["username"])
                return acc
        raise LookupError(f"no untaken {program} account left in this stack ({len(self.accounts)} seeded)")

    def team(self, size: int = 2, *, take: bool = False) -> list[dict[str, Any]]:
        """Members of one agency team (they share a notification address); `take=True`: an untaken team."""
        teams: dict[str, list[dict[str, Any]]] = {}
        for a in self.accounts_of("agency"):
            if a.get("team"):
                teams.setdefault(str(a["team"]), []).append(a)
        for members in teams.values():
            if len(members) >= size and not (take and any(m["username"] in self._taken for m in members)):
                if take:
                    self._taken.update(m["username"] for m in members)
                return members[:size]
        raise LookupError(f"no {'untaken ' if take else ''}agency team with {size} members in the seeded accounts")

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        """The portal's own event log (white box): logins, codes issued and consumed, mail sent."""
        from .collect import portal_events

        return portal_events(self.portal_url, after=after)

    def browser(self, *, cookies: bool = True) -> Portal:
        """A new browser profile (its own cookie jar) on the portal."""
        return Portal(self.portal_url, cookies=cookies)


class MfaInbox(Inbox):
    """The inbox as a test uses it: wait for codes, and set mail faults (delay, spam, drop, 4xx, ...)."""

    def set_faults(self, *rules: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
        """Replace the inbox's fault plan with `rules` (fake_smtp's rule objects); returns the plan.

        Windows (`start`/`end`) are scenario seconds of the stack's clock; a bad rule raises
        ValueError with the inbox's one-line reason.
        """
        try:
            return self.api.set_faults(list(rules), seed)
        except HttpError as exc:
            if exc.status is None:
                raise
            raise ValueError(f"inbox refused the fault plan ({exc.status}): {exc.detail}") from None

    def clear_faults(self) -> None:
        """No faults: mail is delivered at once again."""
        self.set_faults()

    def faults(self) -> dict[str, Any]:
        """The current plan, `{"seed": ..., "rules": [...]}`."""
        return self.api.faults()


class MfaClock:
    """Moves the portal's scenario clock forward (harness endpoint).

    `timebase` is the stack's conversion between wall and scenario time (mfa_harness.timebase),
    before any jump; `now()` asks the portal, jumps included.
    """

    def __init__(self, portal_url: str, timebase: Timebase | None = None):
        self.portal_url = portal_url
        self.timebase = timebase or Timebase()
        self._harness = PortalHarness(portal_url)

    def advance(self, seconds: float) -> float:
        """Jump `seconds` of scenario time ahead; returns the clock's total offset in seconds.
        HttpError (a RuntimeError) when the portal refuses."""
        return self._harness.advance_clock(seconds)

    def now(self) -> float:
        """The portal's scenario time now, clock jumps included."""
        return float(self._harness.clock()["st"])


Clock = MfaClock          # the name before 0.2


def _policy_toml(tmp: Path, overrides: dict[str, Any]) -> Path | None:
    if not overrides:
        return None
    from .runner import write_toml

    return write_toml(tmp / "policy.toml", overrides)


@pytest.fixture(scope=_stack_scope)
def mfa_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MfaStack]:
    """Real portal and inbox processes on free loopback ports (harness mode, 12 seeded accounts).

    Markers `mfa_bugs("name", ...)` plant portal bugs and `mfa_policy(key=value)` overrides the
    MFA policy; with a shared stack (`mfa_stack_scope`) they are read from the module's
    `pytestmark` (or, for `session`, not at all). The processes are stopped after the test.
    """
    bugs = [b for m in request.node.iter_markers("mfa_bugs") for b in m.args]
    overrides: dict[str, Any] = {}
    for m in request.node.iter_markers("mfa_policy"):
        overrides.update(m.kwargs)
    tmp = tmp_path_factory.mktemp("mfa-stack")
    stack = LocalStack(StackConfig(out=tmp / "mfa-stack", epoch=time.time(), time_scale=1.0, seed=1,
                                   partners=12, bugs=bugs, policy_file=_policy_toml(tmp, overrides)))
    try:
        stack.start()
        yield MfaStack(stack.portal_url, stack.inbox_url, PortalHarness(stack.portal_url).accounts(), stack)
    finally:
        stack.stop()


@pytest.fixture
def mfa_portal(mfa_stack: MfaStack) -> Portal:
    """A step-by-step browser on the portal: `.login(user, pw)`, `.verify(code)`, `.resend()`, `.account()`.

    Each step returns a Page whose `.page` names where it landed (`partner-verify`,
    `partner-account`, ...) and whose `.reason` is None or one of VERIFY_REASONS: verify gives
    `wrong`, `expired`, `too_many` or `no_challenge`; resend `rate_limited`; login `generic_login`.
    """
    return mfa_stack.browser()


@pytest.fixture
def mfa_inbox(request: pytest.FixtureRequest, mfa_stack: MfaStack) -> Iterator[MfaInbox]:
    """The inbox: `.wait_code(address, ref=...)` waits for a code; `.set_faults(...)` delays, drops or
    spams mail. It sees only mail that arrives during this test; faults set by the test, or by its
    `mfa_inbox_faults(...)` marker, are cleared afterwards."""
    inbox = MfaInbox(mfa_stack.inbox_url)
    info = inbox.api.info()
    inbox.last_seq = int(info.get("Seq") or 0) if isinstance(info, dict) else 0
    marker = request.node.get_closest_marker("mfa_inbox_faults")
    if marker is not None:
        inbox.set_faults(*marker.args, seed=marker.kwargs.get("seed"))
    try:
        yield inbox
    finally:
        if marker is not None or (inbox.faults() or {}).get("rules"):
            inbox.clear_faults()


@pytest.fixture
def mfa_clock(mfa_stack: MfaStack) -> MfaClock:
    """The portal's scenario clock: `.advance(301)` makes a 5-minute code expire at once."""
    cfg = mfa_stack.stack.cfg
    return MfaClock(mfa_stack.portal_url, Timebase(epoch=cfg.epoch, scale=cfg.time_scale))
