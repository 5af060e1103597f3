"""SQLite storage shared by every portal process (WAL mode, busy timeout).

All state lives here so that a `kill -9` loses nothing acknowledged: accounts, challenges,
codes (HMACs only), sessions (SHA-256 of the id only), reset tokens (hashes only), the mail
outbox and the audit events. The audit table's rowid is the global event id.

Writes that belong together run in one `BEGIN IMMEDIATE` transaction (`Store.tx()`), and the
audit event is written inside the same transaction as the change it describes.

`Store` is the core (`storage_core.py`: connection, transactions, events, meta, clock offset)
plus the named operations of each area, one mixin per module: `account_queries.py`,
`challenge_queries.py`, `outbox_queries.py`, `throttles.py`. No SQL is written anywhere else in
the portal: the use cases call operations by name and get typed rows (`rows.py`) back.
"""

from __future__ import annotations

import hashlib

from .account_queries import AccountQueries
from .challenge_queries import ChallengeQueries
from .outbox_queries import OutboxQueries
from .throttles import ThrottleQueries

__all__ = ["Store", "session_tag", "sid_hash"]


def sid_hash(secret: str) -> str:
    """How a session id, reset token or device id is stored: its SHA-256, never the value."""
    return hashlib.sha256(secret.encode()).hexdigest()


def session_tag(sid: str) -> str:
    """How a session id appears in events: first 12 hex chars of its SHA-256."""
    return hashlib.sha256(sid.encode()).hexdigest()[:12]


class Store(AccountQueries, ChallengeQueries, OutboxQueries, ThrottleQueries):
    """The portal's storage: the core plus every area's named operations."""
