"""Every invariant once: name, check function, the evidence it decides from, whether a prefix proves it.

Everything that lists invariants reads this table (Jepsen's checker map): `check()` runs it in
this order, which is the order of `verdict.json`; scenario files, the verdict and the JSON
schemas take its names; the live views (Locust's MFA tab, the run's progress line) ask
`prefix_safe`; the tab says which evidence an undecided invariant lacks. Adding an invariant
is one entry here plus its check function and tests (README.md in this folder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .access import check_affiliates, check_mfa_required
from .codes import check_binding, check_expiry, check_single_use
from .context import CheckContext
from .index import Index
from .limits import check_attempt_limits, check_resend_limits
from .loops import check_no_login_loops
from .mail import check_outbox, check_recipient
from .rejections import check_no_false_rejections


class Evidence(StrEnum):
    """The kinds of lines and files an invariant can decide from."""

    PORTAL = "portal"        # the portal's own audit events (`/_harness/events`): white box only
    INBOX = "inbox"          # the inbox's deliveries (`/api/v1/deliveries`)
    ACCOUNTS = "accounts"    # the accounts file: who owns which notification address
    CLIENT = "client"        # the clients' history (Locust users' operations, flows, loops)

    @property
    def words(self) -> str:
        return _WORDS[self]


_WORDS = {Evidence.PORTAL: "the portal's own events (/_harness/events)", Evidence.INBOX: "the inbox's deliveries",
          Evidence.ACCOUNTS: "the accounts file", Evidence.CLIENT: "the clients' history"}
PORTAL, INBOX, ACCOUNTS, CLIENT = Evidence.PORTAL, Evidence.INBOX, Evidence.ACCOUNTS, Evidence.CLIENT


@dataclass(frozen=True)
class Invariant:
    """One invariant and what it needs.

    `white_box` / `black_box`: the evidence without which the invariant can only answer unknown,
    against the reference portal (its event log in the history) and against a foreign portal.
    It may read more to find more (e.g. `attempt_limits` also reads the guessers' client lines;
    `outbox` black box decides code pages from the client alone, and mail the inbox refused for a
    while from the inbox and the accounts too: without them such a case is undecided, `retry.py`).

    `prefix_safe`: a violation found on a prefix of the history stays one in the whole history
    (later lines cannot explain it away; the 6-sigma chance bounds aside), so a live view may show
    it as final. Not so where a later line settles the case: mail still in flight (`recipient`,
    `outbox`), a concurrent acceptance or a later resend or clock jump (`no_false_rejections`).
    """

    name: str
    check: Callable[[Index, CheckContext], dict[str, Any]]
    description: str
    prefix_safe: bool
    white_box: frozenset[Evidence]
    black_box: frozenset[Evidence]

    def needs(self, white_box: bool) -> frozenset[Evidence]:
        return self.white_box if white_box else self.black_box

    def missing(self, white_box: bool, have: Iterable[Evidence]) -> list[Evidence]:
        """The evidence this invariant needs in that mode and `have` lacks, in a fixed order."""
        return sorted(self.needs(white_box) - set(have))


def _ev(*kinds: Evidence) -> frozenset[Evidence]:
    return frozenset(kinds)


REGISTRY: tuple[Invariant, ...] = (
    Invariant("single_use", check_single_use, "no code is accepted twice, concurrent submissions included",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("expiry", check_expiry, "no code is accepted after its expiry, in the portal's own time",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("binding", check_binding, "a code opens only the login attempt (challenge) it was issued for",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("mfa_required", check_mfa_required, "every partner session passed a verify; none without MFA "
              "was served partner data", prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("affiliates", check_affiliates, "affiliates are never challenged and never emailed a code",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("recipient", check_recipient, "each code goes to the partner's notification address at issue "
              "time, and no sent code goes missing unless a fault dropped it",
              prefix_safe=False, white_box=_ev(PORTAL, INBOX, ACCOUNTS), black_box=_ev(INBOX, ACCOUNTS)),
    Invariant("resend_limits", check_resend_limits, "resend cooldown, codes per challenge and per account-hour "
              "hold; a resend voids older codes under `invalidate`",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT, INBOX, ACCOUNTS)),
    Invariant("attempt_limits", check_attempt_limits, "at most max_attempts wrong codes per challenge, no "
              "success after them; guessers no luckier than chance",
              prefix_safe=True, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("no_false_rejections", check_no_false_rejections, "a correct, unexpired, unused code of a live "
              "challenge is never refused", prefix_safe=False, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
    Invariant("no_login_loops", check_no_login_loops, "no login flow is kept going round between sign-in "
              "and the code page", prefix_safe=True, white_box=_ev(CLIENT), black_box=_ev(CLIENT)),
    Invariant("outbox", check_outbox, "every issued code's mail was sent or failed for good; nothing stays "
              "queued once outages heal", prefix_safe=False, white_box=_ev(PORTAL), black_box=_ev(CLIENT)),
)

INVARIANTS: dict[str, Invariant] = {inv.name: inv for inv in REGISTRY}
if len(INVARIANTS) != len(REGISTRY):
    raise ValueError(f"invariant names must be unique: {[inv.name for inv in REGISTRY]}")
INVARIANT_NAMES: tuple[str, ...] = tuple(INVARIANTS)
# Invariants whose violations a prefix of the history already proves (live views show them as final).
PREFIX_SAFE: frozenset[str] = frozenset(inv.name for inv in REGISTRY if inv.prefix_safe)
