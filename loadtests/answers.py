"""One reading of a portal answer, shared by every client step.

A step (sign in, verify, resend, open the account page, …) posts or gets a page, and the
portal client says where the request and its redirects ended (`PortalResult`). What that
ending *is* — no answer, a redirect loop, back at sign-in, the code page, a signed-in page,
something else — is decided here, once; each step only says what the kinds mean for it (a
code page is success after signing in and a refusal after a wrong code). Pure: no Locust,
no gevent, so it is unit-tested on hand-made results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The kinds of answer, told apart in this order (the first that fits wins).
CONNECTION = "connection"          # no answer (connection error, timeout): the outcome is unknown
LOGIN_PAGE = "login_page"          # the sign-in form (`looped`: soon after a verify, see LoopWatch)
LOOP = "loop"                      # a redirect chain revisited a URL or ran too long
COOKIES_BLOCKED = "cookies_blocked"
CODE_PAGE = "code_page"            # the page asking for the emailed code
SIGNED_IN = "signed_in"            # a page only a signed-in user sees
OTHER = "other"                    # any other page: an error page, an unknown page, no form to fill in
KINDS = (CONNECTION, LOGIN_PAGE, LOOP, COOKIES_BLOCKED, CODE_PAGE, SIGNED_IN, OTHER)

SIGNED_IN_PAGES = ("account", "affiliate_dashboard", "my_account")


class Ending(Protocol):
    """What the reading needs of a `PortalResult`."""

    status: int
    page: str | None
    reason: str | None
    error: str | None
    looped: bool


@dataclass(frozen=True)
class Answer:
    """Where a request ended, read once."""

    kind: str                  # one of KINDS
    reason: str | None         # the profile's failure reason (wrong, expired, too_many, …), if any
    throttled: bool            # HTTP 429 or a page saying "rate limited" (a fact beside the kind)
    looped: bool               # a redirect loop, or the sign-in form soon after a verify


def read_answer(res: Ending) -> Answer:
    """The kind of a portal answer (see KINDS), with its reason and whether it throttled or looped."""
    if res.error:
        kind = CONNECTION
    elif res.page == "login":
        kind = LOGIN_PAGE
    elif res.looped:
        kind = LOOP
    elif res.page == "cookies_blocked":
        kind = COOKIES_BLOCKED
    elif res.page == "verify":
        kind = CODE_PAGE
    elif res.page in SIGNED_IN_PAGES:
        kind = SIGNED_IN
    else:
        kind = OTHER
    return Answer(kind, res.reason, res.status == 429 or res.reason == "rate_limited", bool(res.looped))
