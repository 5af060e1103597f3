"""Storage operations of the mail outbox: queue, claim, and record each delivery's outcome.

A part of `Store` (`storage.py`). Every portal process runs a sender (`outbox.py`); a row is
sent by the one process whose conditional UPDATE claimed it, so each message leaves once, and
a claim of a process that died (kill -9) is given back or runs out (`claim_until_wall`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .rows import Mail, columns
from .storage_core import StoreCore

MAIL = columns(Mail)
DUE = "(state = 'queued' AND next_wall <= ?) OR (state = 'sending' AND claim_until_wall < ?)"


class OutboxQueries(StoreCore):
    """The outbox table: queued, sending (claimed by a pid), sent, failed."""

    def enqueue_mail(self, message_id: str, recipient: str, kind: str, code_id: int | None, raw: bytes,
                     deadline_st: float, claim: tuple[int, float] | None = None) -> Mail:
        """Queue a message (with its `email_queued` event, in the caller's transaction); returns its row.

        `claim` (pid, claim until wall): the row is queued already claimed by that process's sender,
        its first attempt counted, as `claim_due_mail` would leave it (the sender then needs no poll
        and no claim transaction of its own)."""
        state, attempts, (pid, until) = ("sending", 1, claim) if claim else ("queued", 0, (None, None))
        cur = self._execute("INSERT INTO outbox (message_id, recipient, kind, code_id, raw, next_wall, deadline_st,"
                            " state, attempts, claimed_by, claim_until_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (message_id, recipient, kind, code_id, raw, 0.0, deadline_st, state, attempts, pid, until))
        outbox_id = int(cur.lastrowid)
        self.event("email_queued", outbox_id=outbox_id, message_id=message_id, recipient=recipient, kind=kind,
                   code_id=code_id)
        return Mail(outbox_id, message_id, recipient, kind, code_id, raw, state, attempts, 0.0, deadline_st, pid,
                    until)

    def mail_claims(self, except_pid: int) -> list[tuple[int, int | None]]:
        """(outbox id, claiming pid) of the rows being sent by any process but `except_pid`."""
        return [(r[0], r[1]) for r in self._fetch_all("SELECT id, claimed_by FROM outbox WHERE state = 'sending'"
                                                      " AND claimed_by != ?", (except_pid,))]

    def release_claims(self, outbox_ids: Iterable[int]) -> None:
        """Give rows still being sent back to the queue (their sender is gone), in one transaction."""
        with self.tx():
            for outbox_id in outbox_ids:
                self._execute("UPDATE outbox SET state = 'queued', claimed_by = NULL WHERE id = ? AND state = 'sending'",
                              (outbox_id,))

    def claim_due_mail(self, pid: int, wall: float, claim_until: float, limit: int) -> list[Mail]:
        """Atomically take up to `limit` due rows for process `pid`, counting one more attempt each."""
        if self._fetch_one(f"SELECT 1 FROM outbox WHERE {DUE} LIMIT 1", (wall, wall)) is None:
            return []  # a plain read: idle polls never take the database write lock
        claimed = []
        with self.tx():
            for row in map(Mail._make, self._fetch_all(f"SELECT {MAIL} FROM outbox WHERE {DUE} ORDER BY id LIMIT ?",
                                                       (wall, wall, limit))):
                cur = self._execute("UPDATE outbox SET state = 'sending', claimed_by = ?, claim_until_wall = ?,"
                                    " attempts = attempts + 1 WHERE id = ? AND state = ?",
                                    (pid, claim_until, row.id, row.state))
                if cur.rowcount == 1:
                    claimed.append(row._replace(attempts=row.attempts + 1))
        return claimed

    def mark_mail_sent(self, outbox_id: int) -> None:
        """Accepted by the SMTP server: the composed message (with its code) is dropped."""
        self._execute("UPDATE outbox SET state = 'sent', raw = NULL WHERE id = ?", (outbox_id,))

    def mark_mail_failed(self, outbox_id: int) -> None:
        """Given up (refused, or past its deadline): the composed message is dropped."""
        self._execute("UPDATE outbox SET state = 'failed', raw = NULL WHERE id = ?", (outbox_id,))

    def retry_mail(self, outbox_id: int, next_wall: float) -> None:
        """Back to the queue, due again at wall time `next_wall`."""
        self._execute("UPDATE outbox SET state = 'queued', claimed_by = NULL, next_wall = ? WHERE id = ?",
                      (next_wall, outbox_id))
