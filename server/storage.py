"""SQLite storage shared by every portal process (WAL mode, busy timeout).

All state lives here so that a `kill -9` loses nothing acknowledged: accounts, challenges,
codes (HMACs only), sessions (SHA-256 of the id only), reset tokens (hashes only), the mail
outbox and the audit events. The audit table's rowid is the global event id.

Writes that belong together run in one `BEGIN IMMEDIATE` transaction (`Store.tx()`), and the
audit event is written inside the same transaction as the change it describes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .clock import ScenarioClock
from .throttles import SCHEMA as THROTTLE_SCHEMA
from .throttles import ThrottleQueries

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partners (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    seed_password TEXT,
    notification_email TEXT NOT NULL,
    team TEXT,
    locked INTEGER NOT NULL DEFAULT 0,
    login_failures INTEGER NOT NULL DEFAULT 0,
    last_failure_st REAL
);
CREATE TABLE IF NOT EXISTS challenges (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    partner_id INTEGER NOT NULL REFERENCES partners(id),
    program TEXT NOT NULL,
    created_st REAL NOT NULL,
    expires_st REAL NOT NULL,
    wrong_attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    next_path TEXT
);
CREATE TABLE IF NOT EXISTS codes (
    id INTEGER PRIMARY KEY,
    challenge_id INTEGER NOT NULL REFERENCES challenges(id),
    partner_id INTEGER NOT NULL,
    code_hmac TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    issued_st REAL NOT NULL,
    expires_st REAL NOT NULL,
    used_st REAL,
    voided TEXT
);
CREATE INDEX IF NOT EXISTS codes_challenge ON codes(challenge_id);
CREATE INDEX IF NOT EXISTS codes_partner ON codes(partner_id, issued_st);
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    partner_id INTEGER NOT NULL,
    program TEXT NOT NULL,
    challenge_id INTEGER,
    mfa INTEGER NOT NULL,
    created_st REAL NOT NULL,
    expires_st REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reset_tokens (
    token_hash TEXT PRIMARY KEY,
    partner_id INTEGER NOT NULL,
    expires_st REAL NOT NULL,
    used_st REAL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    code_id INTEGER,
    raw BLOB,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_wall REAL NOT NULL,
    deadline_st REAL NOT NULL,
    claimed_by INTEGER,
    claim_until_wall REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_wall);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wall REAL NOT NULL,
    st REAL NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL
);
"""


def sid_hash(secret: str) -> str:
    """How a session id, reset token or device id is stored: its SHA-256, never the value."""
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()


def session_tag(sid: str) -> str:
    """How a session id appears in events: first 12 hex chars of its SHA-256."""
    import hashlib

    return hashlib.sha256(sid.encode()).hexdigest()[:12]


class Store(ThrottleQueries):
    """One SQLite connection (per process) plus the queries the portal needs."""

    def __init__(self, path: str, clock: ScenarioClock | None = None, busy_timeout_ms: int = 15000) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._tx_offset: float | None = None
        self._offset_cache: tuple[int, float] | None = None  # (data_version, offset)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA + THROTTLE_SCHEMA)
        self.clock = clock or ScenarioClock(0.0, 1.0)

    def attach_clock(self, clock: ScenarioClock) -> None:
        self.clock = clock

    def close(self) -> None:
        self.conn.close()

    # ---- transactions and events -------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nested use joins the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._tx_offset = None  # read once per transaction: its snapshot cannot change under it
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self._tx_offset = None
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._tx_offset = None
            self.conn.execute("COMMIT")

    def q(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def q1(self, sql: str, args: tuple | list = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(sql, args).fetchone()

    def x(self, sql: str, args: tuple | list = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.conn.execute(sql, args)

    def event(self, name: str, **fields: Any) -> int:
        """Append an audit event (in the caller's transaction if any); returns its id."""
        cur = self.x("INSERT INTO audit (wall, st, event, data) VALUES (?, ?, ?, ?)",
                     (self.clock.wall(), self.clock.now(), name, json.dumps(fields, sort_keys=True)))
        return int(cur.lastrowid)

    def events_after(self, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.q("SELECT id, wall, st, event, data FROM audit WHERE id > ? ORDER BY id LIMIT ?",
                      (after, limit))
        out = []
        for r in rows:
            line = {"src": "portal", "id": r["id"], "wall": r["wall"], "st": r["st"], "event": r["event"]}
            line.update(json.loads(r["data"]))
            out.append(line)
        return out

    # ---- meta ----------------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        row = self.q1("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def meta_get_or_set(self, key: str, value: str) -> str:
        """Atomically keep the first value ever stored under `key` (shared secrets)."""
        with self.tx():
            self.x("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return self.meta_get(key) or value

    def clock_offset(self) -> float:
        """The harness clock offset. Every `now()` asks (~18 times per MFA login), so it is read once per
        write transaction (whose snapshot nothing can change) and otherwise kept until SQLite's
        `PRAGMA data_version` says another connection (another portal process) committed: that pragma
        costs a fraction of the SELECT's read transaction."""
        with self._lock:
            if self._depth and self._tx_offset is not None:
                return self._tx_offset
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            cached = self._offset_cache
            if cached is not None and cached[0] == version:
                offset = cached[1]
            else:
                value = self.meta_get("clock_offset")
                offset = float(value) if value is not None else 0.0
                self._offset_cache = (version, offset)
            if self._depth:
                self._tx_offset = offset
            return offset

    def advance_clock(self, by: float) -> float:
        with self.tx():
            offset = self.clock_offset() + by
            self.x("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_offset', ?)", (repr(offset),))
            self._tx_offset, self._offset_cache = offset, None  # this connection's own write
            self.event("clock_advanced", by=by, offset=offset)
        return offset

    # ---- partners ------------------------------------------------------------------------
    def partner_count(self) -> int:
        return int(self.q1("SELECT COUNT(*) AS n FROM partners")["n"])

    def add_partner(self, program: str, username: str, password_hash: str, seed_password: str | None,
                    notification_email: str, team: str | None) -> int:
        cur = self.x("INSERT INTO partners (program, username, password_hash, seed_password, notification_email, team)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     (program, username, password_hash, seed_password, notification_email, team))
        return int(cur.lastrowid)

    def partner_by_username(self, username: str) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM partners WHERE username = ?", (username,))

    def partner(self, partner_id: int) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM partners WHERE id = ?", (partner_id,))

    def accounts(self) -> list[dict[str, Any]]:
        return [{"partner_id": r["id"], "program": r["program"], "username": r["username"],
                 "password": r["seed_password"], "notification_email": r["notification_email"],
                 "team": r["team"], "locked": bool(r["locked"])}
                for r in self.q("SELECT * FROM partners ORDER BY id")]

    def forget_plaintext_passwords(self) -> int:
        """Outside harness mode no plaintext password stays in the database (an older run's too)."""
        with self.tx():
            return self.x("UPDATE partners SET seed_password = NULL WHERE seed_password IS NOT NULL").rowcount

    def login_failed(self, partner_id: int | None, username: str, reason: str, now: float,
                     client: str | None = None, **extra: Any) -> None:
        """Log a refused login; a wrong password also counts in the (account, client) bucket."""
        with self.tx():
            if partner_id is not None and reason == "bad_password" and client is not None:
                self.add_password_failure(partner_id, client, now)
            self.event("login_failed", username=username, reason=reason, **extra)

    def login_succeeded(self, partner_id: int, client: str | None = None) -> None:
        if client is not None:
            self.clear_password_failures(partner_id, client)

    def set_password(self, partner_id: int, password_hash: str, plaintext_for_harness: str | None, via: str) -> None:
        with self.tx():
            self.x("UPDATE partners SET password_hash = ?, seed_password = ?, login_failures = 0,"
                   " last_failure_st = NULL WHERE id = ?", (password_hash, plaintext_for_harness, partner_id))
            self.forget_account_limits(partner_id)
            voided = self.void_reset_tokens(partner_id)
            self.event("password_changed", partner_id=partner_id, via=via, reset_links_voided=voided)

    def set_notification_email(self, partner_id: int, address: str) -> list[int]:
        """Change the address and void every unused code of the partner; returns voided ids."""
        with self.tx():
            row = self.partner(partner_id)
            if row is None:
                raise KeyError(partner_id)
            live = [r["id"] for r in self.q("SELECT id FROM codes WHERE partner_id = ? AND used_st IS NULL"
                                            " AND voided IS NULL ORDER BY id", (partner_id,))]
            self.x("UPDATE partners SET notification_email = ? WHERE id = ?", (address, partner_id))
            for code_id in live:
                self.x("UPDATE codes SET voided = 'address_changed' WHERE id = ?", (code_id,))
                ch = self.q1("SELECT challenge_id FROM codes WHERE id = ?", (code_id,))
                self.event("code_voided", code_id=code_id, challenge_id=ch["challenge_id"], reason="address_changed")
            self.event("notification_changed", partner_id=partner_id, old=row["notification_email"], new=address,
                       voided=live)
        return live

    def set_locked(self, partner_id: int, locked: bool, via: str) -> dict[str, Any]:
        """Lock or unlock a partner (support action); raises KeyError for an unknown id.

        Locking ends everything the partner has open, in the same transaction: pending
        challenges become `dead`, every unused code of the partner is voided (`account_locked`,
        as an address change voids them), and all its sessions, pending and signed-in, are
        deleted. Unlocking also clears the password-failure count, so the partner is not met by
        the backoff of the failures that led to the lock. Locking twice is harmless.
        """
        with self.tx():
            row = self.partner(partner_id)
            if row is None:
                raise KeyError(partner_id)
            was_locked = bool(row["locked"])
            if not locked:
                self.x("UPDATE partners SET locked = 0, login_failures = 0, last_failure_st = NULL WHERE id = ?",
                       (partner_id,))
                self.forget_account_limits(partner_id)
                self.event("account_unlocked", partner_id=partner_id, via=via, was_locked=was_locked)
                return {"partner_id": partner_id, "locked": False, "was_locked": was_locked, "challenges": [],
                        "voided": [], "sessions": 0}
            self.x("UPDATE partners SET locked = 1 WHERE id = ?", (partner_id,))
            challenges = [r["id"] for r in self.q("SELECT id FROM challenges WHERE partner_id = ? AND status = 'pending'"
                                                  " ORDER BY id", (partner_id,))]
            self.x("UPDATE challenges SET status = 'dead' WHERE partner_id = ? AND status = 'pending'", (partner_id,))
            voided = []
            for r in self.q("SELECT id, challenge_id FROM codes WHERE partner_id = ? AND used_st IS NULL"
                            " AND voided IS NULL ORDER BY id", (partner_id,)):
                self.x("UPDATE codes SET voided = 'account_locked' WHERE id = ?", (r["id"],))
                self.event("code_voided", code_id=r["id"], challenge_id=r["challenge_id"], reason="account_locked")
                voided.append(r["id"])
            sessions = self.x("DELETE FROM sessions WHERE partner_id = ?", (partner_id,)).rowcount
            self.event("account_locked", partner_id=partner_id, via=via, was_locked=was_locked,
                       challenges=challenges, voided=voided, sessions=sessions)
        return {"partner_id": partner_id, "locked": True, "was_locked": was_locked, "challenges": challenges,
                "voided": voided, "sessions": sessions}

    def is_locked(self, partner_id: int) -> bool:
        row = self.q1("SELECT locked FROM partners WHERE id = ?", (partner_id,))
        return row is not None and bool(row["locked"])

    # ---- challenges and codes ------------------------------------------------------------
    def create_challenge(self, ref: str, partner_id: int, program: str, now: float, expires: float,
                         next_path: str | None) -> int:
        cur = self.x("INSERT INTO challenges (ref, partner_id, program, created_st, expires_st, next_path)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (ref, partner_id, program, now, expires, next_path))
        return int(cur.lastrowid)

    def challenge(self, challenge_id: int) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM challenges WHERE id = ?", (challenge_id,))

    def codes_of_challenge(self, challenge_id: int) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM codes WHERE challenge_id = ? ORDER BY id", (challenge_id,))

    def codes_of_partner(self, partner_id: int, since: float | None = None) -> list[sqlite3.Row]:
        if since is None:
            return self.q("SELECT * FROM codes WHERE partner_id = ? ORDER BY id", (partner_id,))
        return self.q("SELECT * FROM codes WHERE partner_id = ? AND issued_st > ? ORDER BY id", (partner_id, since))

    def add_code(self, challenge_id: int, partner_id: int, code_hmac: str, recipient: str, message_id: str,
                 issued: float, expires: float) -> int:
        cur = self.x("INSERT INTO codes (challenge_id, partner_id, code_hmac, recipient, message_id, issued_st,"
                     " expires_st) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (challenge_id, partner_id, code_hmac, recipient, message_id, issued, expires))
        return int(cur.lastrowid)

    def void_codes(self, challenge_id: int, reason: str, keep: int | None = None) -> list[int]:
        rows = self.q("SELECT id FROM codes WHERE challenge_id = ? AND used_st IS NULL AND voided IS NULL",
                      (challenge_id,))
        voided = [r["id"] for r in rows if r["id"] != keep]
        for code_id in voided:
            self.x("UPDATE codes SET voided = ? WHERE id = ?", (reason, code_id))
            self.event("code_voided", code_id=code_id, challenge_id=challenge_id, reason=reason)
        return voided

    # ---- sessions ------------------------------------------------------------------------
    def add_session(self, sid_hash: str, kind: str, partner_id: int, program: str, challenge_id: int | None,
                    mfa: bool, now: float, expires: float) -> None:
        self.x("INSERT INTO sessions (sid_hash, kind, partner_id, program, challenge_id, mfa, created_st, expires_st)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (sid_hash, kind, partner_id, program, challenge_id, int(mfa), now, expires))

    def session(self, sid_hash: str) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM sessions WHERE sid_hash = ?", (sid_hash,))

    def delete_session(self, sid_hash: str) -> int:
        return self.x("DELETE FROM sessions WHERE sid_hash = ?", (sid_hash,)).rowcount

    # ---- reset tokens --------------------------------------------------------------------
    def add_reset_token(self, token_hash: str, partner_id: int, expires: float) -> None:
        self.x("INSERT INTO reset_tokens (token_hash, partner_id, expires_st) VALUES (?, ?, ?)",
               (token_hash, partner_id, expires))

    def reset_token(self, token_hash: str) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM reset_tokens WHERE token_hash = ?", (token_hash,))

    def use_reset_token(self, token_hash: str, now: float) -> bool:
        """Single use: only the first caller flips used_st."""
        cur = self.x("UPDATE reset_tokens SET used_st = ? WHERE token_hash = ? AND used_st IS NULL AND expires_st > ?",
                     (now, token_hash, now))
        return cur.rowcount == 1

    # ---- outbox --------------------------------------------------------------------------
    def enqueue_mail(self, message_id: str, recipient: str, kind: str, code_id: int | None, raw: bytes,
                     deadline_st: float) -> int:
        cur = self.x("INSERT INTO outbox (message_id, recipient, kind, code_id, raw, next_wall, deadline_st)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (message_id, recipient, kind, code_id, raw, 0.0, deadline_st))
        outbox_id = int(cur.lastrowid)
        self.event("email_queued", outbox_id=outbox_id, message_id=message_id, recipient=recipient, kind=kind,
                   code_id=code_id)
        return outbox_id
