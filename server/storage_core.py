"""The core of the portal's SQLite storage: one connection per process (WAL, busy timeout),
transactions, the audit log, meta values and the harness clock offset.

The named operations of each area subclass `StoreCore` (`account_queries.py`,
`challenge_queries.py`, `outbox_queries.py`, `throttles.py`) and `storage.Store` combines them.
Only those modules write SQL, through `_fetch_all`, `_fetch_one` and `_execute`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .clock import ScenarioClock
from .schema import SCHEMA


class StoreCore:
    """One SQLite connection (per process): transactions, the audit log, meta and the clock offset."""

    def __init__(self, path: str, clock: ScenarioClock | None = None, busy_timeout_ms: int = 15000) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        self._lock = threading.RLock()
        self._depth = 0
        self._tx_offset: float | None = None
        self._offset_cache: tuple[int, float] | None = None  # (data_version, offset)
        self._after_commit: list[Callable[[], None]] = []
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self.clock = clock or ScenarioClock(0.0, 1.0)

    def attach_clock(self, clock: ScenarioClock) -> None:
        self.clock = clock

    def close(self) -> None:
        self.conn.close()

    # ---- transactions and statements (for the query mixins only) ----------------------
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
                self._after_commit.clear()
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._tx_offset = None
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self._after_commit.clear()
                raise
            hooks, self._after_commit = self._after_commit, []
            for hook in hooks:
                hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the current transaction has committed (never if it rolls back)."""
        assert self._depth, "after_commit outside a transaction"
        self._after_commit.append(hook)

    def _fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def _fetch_one(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        with self._lock:
            return self.conn.execute(sql, args).fetchone()

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.conn.execute(sql, args)

    # ---- events --------------------------------------------------------------------------
    def event(self, name: str, **fields: Any) -> int:
        """Append an audit event (in the caller's transaction if any); returns its id."""
        cur = self._execute("INSERT INTO audit (wall, st, event, data) VALUES (?, ?, ?, ?)",
                            (self.clock.wall(), self.clock.now(), name, json.dumps(fields, sort_keys=True)))
        return int(cur.lastrowid)

    def events_after(self, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self._fetch_all("SELECT id, wall, st, event, data FROM audit WHERE id > ? ORDER BY id LIMIT ?",
                               (after, limit))
        out = []
        for event_id, wall, st, event, data in rows:
            line = {"src": "portal", "id": event_id, "wall": wall, "st": st, "event": event}
            line.update(json.loads(data))
            out.append(line)
        return out

    # ---- meta ----------------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        row = self._fetch_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row[0]

    def meta_get_or_set(self, key: str, value: str) -> str:
        """Atomically keep the first value ever stored under `key` (shared secrets)."""
        with self.tx():
            self._execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
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
            self._execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_offset', ?)", (repr(offset),))
            self._tx_offset, self._offset_cache = offset, None  # this connection's own write
            self.event("clock_advanced", by=by, offset=offset)
        return offset
