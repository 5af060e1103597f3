"""Mailpit search syntax: parsed once into terms, then matched against stored messages.

Supported: ``to:``, ``from:``, ``cc:``, ``bcc:``, ``subject:``, ``message-id:``, ``tag:``,
``is:read|unread|tagged|spam|inbox``, ``has:attachment``, ``after:``/``before:`` (YYYY-MM-DD, an
ISO timestamp or a Unix time; compared with the delivery time), ``in:inbox|spam`` and
``code:`` (our additions), plain words (subject, text and addresses), quoted phrases and
negation with ``-`` or ``!``.  A positive ``to:`` holding a full address matches that
recipient exactly (case-insensitive), so one team inbox never sees another's codes, and
lets the store answer from its recipient index instead of scanning; ``to:`` without ``@``
is a substring match as in Mailpit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mfa_harness.fake_smtp.store import StoredMessage

_TOKEN = re.compile(r'\s*([-!]?)(?:([A-Za-z][\w-]*):)?("(?:[^"]*)"|\S+)')
FIELDS = {"to", "from", "cc", "bcc", "subject", "message-id", "tag", "is", "has", "after", "before",
          "in", "code"}


class QueryError(ValueError):
    """A query that cannot be understood (answered with HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Term:
    field: str  # "" for a plain word
    value: str  # lower-cased
    negated: bool
    number: float = 0.0  # parsed time for after:/before:


def _parse_time(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"invalid date {value!r}: use YYYY-MM-DD, an ISO timestamp or Unix seconds") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def exact_recipients(self) -> tuple[str, ...]:
        """Addresses any match must have as a recipient (from positive ``to:user@host``)."""
        return tuple(t.value for t in self.terms if t.field == "to" and not t.negated and "@" in t.value)

    def matches(self, msg: StoredMessage) -> bool:
        return all(_term_matches(t, msg) != t.negated for t in self.terms)


def _addr_text(addrs: list[dict[str, str]]) -> str:
    return " ".join(f"{a['Name']} <{a['Address']}>" for a in addrs).lower()


def _term_matches(t: Term, m: StoredMessage) -> bool:
    f, v = t.field, t.value
    if f == "":
        return v in m.search_text
    if f == "to":
        if "@" in v:
            return v in m.addresses
        return any(v in a for a in m.addresses) or v in _addr_text(m.summary.to)
    if f == "from":
        return v in _addr_text([m.summary.from_]) or v in m.mail_from.lower()
    if f == "cc":
        return v in _addr_text(m.summary.cc)
    if f == "bcc":
        return v in _addr_text(m.summary.bcc) or any(v in r.lower() for r in m.bcc_envelope)
    if f == "subject":
        return v in m.summary.subject.lower()
    if f == "message-id":
        return v.strip("<>") == m.summary.message_id.lower()
    if f == "tag":
        return any(v == tag.lower() for tag in m.tags)
    if f == "is":
        if v == "read":
            return m.read
        if v == "unread":
            return not m.read
        if v == "tagged":
            return bool(m.tags)
        if v in ("spam", "inbox"):
            return m.folder == v
        raise QueryError(f"unknown is:{v} (use read, unread, tagged, spam, inbox)")
    if f == "has":
        if v in ("attachment", "attachments"):
            return m.summary.attachments > 0
        raise QueryError(f"unknown has:{v} (use attachment)")
    if f == "after":
        return m.delivered > t.number
    if f == "before":
        return m.delivered < t.number
    if f == "in":
        return m.folder == v
    if f == "code":
        return (m.code or "") == v
    raise QueryError(f"unknown field {f}:")  # unreachable: parse() rejects unknown fields


def parse(query: str | None) -> Query:
    """Parse a search string; raises QueryError with a readable reason."""
    terms: list[Term] = []
    text = (query or "").strip()
    pos = 0
    for _ in range(len(text) + 1):
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        neg, field, value = m.group(1), (m.group(2) or "").lower(), m.group(3)
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        if field and field not in FIELDS:
            value, field = f"{field}:{value}", ""
        value = value.strip().lower()
        if not value:
            continue
        number = 0.0
        if field in ("after", "before"):
            number = _parse_time(value)
        if field == "is" and value not in ("read", "unread", "tagged", "spam", "inbox"):
            raise QueryError(f"unknown is:{value} (use read, unread, tagged, spam, inbox)")
        if field == "has" and value not in ("attachment", "attachments"):
            raise QueryError(f"unknown has:{value} (use attachment)")
        if field == "in" and value not in ("inbox", "spam"):
            raise QueryError(f"unknown in:{value} (use inbox or spam)")
        terms.append(Term(field, value, bool(neg), number))
    return Query(tuple(terms))
