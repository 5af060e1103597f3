"""Mailpit's JSON shapes where they differ from what Python would write by itself.

Mailpit is written in Go, so its shapes are Go's: a time is ``time.Time`` as JSON (RFC 3339,
the value's own offset, ``Z`` for UTC, a fraction only when there is one); a message's ``Date``
falls back to the received time; the headers endpoint is ``net/mail``'s ``map[string][]string``
with canonical MIME keys (``Message-Id``, ``Mime-Version``) in alphabetical order.  Pure
functions, so the compatibility rules live in one place and are tested without a server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_TOKEN_KEY = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def rfc3339(ts: float) -> str:
    """Unix time as RFC 3339 UTC with milliseconds (``Created`` of a summary)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def go_time(dt: datetime) -> str:
    """``dt`` as Go marshals a ``time.Time`` (RFC 3339 with nanoseconds, trailing zeros dropped)."""
    text = dt.isoformat()
    if dt.microsecond:
        head, _, rest = text.partition(".")
        frac, zone = rest[:6].rstrip("0"), rest[6:]
        text = f"{head}.{frac}{zone}"
    return text.replace("+00:00", "Z")


def message_date(header: str, received: float) -> str:
    """Mailpit's ``Date``: the Date header in RFC 3339, or the received time when it is missing
    or unreadable (Mailpit answers the same, rather than an empty string)."""
    if header:
        try:
            dt = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError, OverflowError):
            dt = None
        if dt is not None:
            return go_time(dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC))
    return rfc3339(received)


def canonical_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``message-ID`` becomes ``Message-Id``; a name
    with a character outside the token set is returned as it is."""
    if not _TOKEN_KEY.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def go_headers(headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Headers keyed as Mailpit keys them: canonical names (merging ``To`` and ``TO``), sorted."""
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        out.setdefault(canonical_key(name), []).extend(values)
    return dict(sorted(out.items()))
