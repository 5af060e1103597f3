"""Typed rows of the portal database: what `Store` hands to the use cases.

Each field is named and ordered as the column of its table (`schema.py`), so a row is built
straight from a SELECT of `columns(Type)`. NamedTuples: immutable, and as cheap to build as the
plain tuples SQLite returns (every MFA login reads a dozen rows).
"""

from __future__ import annotations

from typing import NamedTuple


class Partner(NamedTuple):
    id: int
    program: str
    username: str
    password_hash: str
    seed_password: str | None  # plaintext, harness mode only
    notification_email: str
    team: str | None
    locked: int


class Challenge(NamedTuple):
    """A pending login waiting for its code."""

    id: int
    ref: str
    partner_id: int
    program: str
    created_st: float
    expires_st: float
    wrong_attempts: int
    status: str  # pending | done | dead | expired
    next_path: str | None


class Code(NamedTuple):
    """A verification code, stored only as its HMAC."""

    id: int
    challenge_id: int
    partner_id: int
    code_hmac: str
    recipient: str
    message_id: str
    issued_st: float
    expires_st: float
    used_st: float | None
    voided: str | None  # the reason, once voided


class Session(NamedTuple):
    """A pending (waiting for a code) or full session, keyed by the SHA-256 of its id."""

    sid_hash: str
    kind: str  # pending | full
    partner_id: int
    program: str
    challenge_id: int | None
    mfa: int
    created_st: float
    expires_st: float


class ResetToken(NamedTuple):
    token_hash: str
    partner_id: int
    expires_st: float
    used_st: float | None


class Mail(NamedTuple):
    """An outbox row: one message waiting for, or past, its delivery."""

    id: int
    message_id: str
    recipient: str
    kind: str  # code | reset
    code_id: int | None
    raw: bytes | None  # the composed message, dropped once accepted or failed
    state: str  # queued | sending | sent | failed
    attempts: int
    next_wall: float
    deadline_st: float
    claimed_by: int | None
    claim_until_wall: float | None


def columns(row_type: type[tuple]) -> str:
    """The SELECT list that builds `row_type` (its fields, in order)."""
    return ", ".join(row_type._fields)  # type: ignore[attr-defined]
