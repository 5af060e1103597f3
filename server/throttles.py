"""SQL for the rate budgets (README "Security"): wrong codes, password failures per client,
trusted devices and forgot-password requests. A mixin of `Store`, so every query stays in the
storage layer while `storage.py` keeps to accounts, challenges, sessions and the outbox.

The decisions themselves are pure (`challenge.guess_budget`, `login_code_budget`,
`reset_budget`, `login_retry_after`); these methods only fetch their inputs and record outcomes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA = """
CREATE TABLE IF NOT EXISTS wrong_codes (
    id INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL,
    challenge_id INTEGER NOT NULL,
    st REAL NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS wrong_codes_partner ON wrong_codes(partner_id, st);
CREATE TABLE IF NOT EXISTS password_failures (
    partner_id INTEGER NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_st REAL NOT NULL,
    PRIMARY KEY (partner_id, client)
);
CREATE TABLE IF NOT EXISTS trusted_devices (
    partner_id INTEGER NOT NULL,
    device_hash TEXT NOT NULL,
    st REAL NOT NULL,
    PRIMARY KEY (partner_id, device_hash)
);
CREATE TABLE IF NOT EXISTS reset_requests (
    id INTEGER PRIMARY KEY,
    st REAL NOT NULL,
    client TEXT NOT NULL,
    partner_id INTEGER,
    token_hash TEXT,
    refused INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS reset_requests_client ON reset_requests(client, st);
CREATE INDEX IF NOT EXISTS reset_requests_partner ON reset_requests(partner_id, st);
"""

UNTRUSTED = "*"  # the password-failure bucket every client without a trusted device shares


class ThrottleQueries:
    """Budget inputs and outcomes; `self` is a `Store` (q, q1, x, tx)."""

    q: Callable[..., list[sqlite3.Row]]
    q1: Callable[..., sqlite3.Row | None]
    x: Callable[..., sqlite3.Cursor]

    # ---- codes ---------------------------------------------------------------------------
    def unused_code_times(self, partner_id: int, since: float) -> list[float]:
        """Issue times of the account's codes after `since` that nobody used (voided ones count)."""
        return [r["issued_st"] for r in self.q("SELECT issued_st FROM codes WHERE partner_id = ? AND issued_st > ?"
                                               " AND used_st IS NULL", (partner_id, since))]

    def failed_code_times(self, partner_id: int, since: float) -> list[float]:
        """When wrong codes were entered after `since` on the account's sign-ins that did not succeed."""
        return [r["st"] for r in self.q("SELECT w.st FROM wrong_codes w JOIN challenges c ON c.id = w.challenge_id"
                                        " WHERE w.partner_id = ? AND w.st > ? AND c.status != 'done'",
                                        (partner_id, since))]

    def unanswered_wrong_codes(self, partner_id: int) -> int:
        """Wrong codes on failed sign-ins since the account's last successful one."""
        row = self.q1("SELECT COUNT(*) AS n FROM wrong_codes w JOIN challenges c ON c.id = w.challenge_id"
                      " WHERE w.partner_id = ? AND w.answered = 0 AND c.status != 'done'", (partner_id,))
        return int(row["n"])

    def add_wrong_code(self, partner_id: int, challenge_id: int, now: float) -> None:
        self.x("INSERT INTO wrong_codes (partner_id, challenge_id, st) VALUES (?, ?, ?)",
               (partner_id, challenge_id, now))

    def answer_wrong_codes(self, partner_id: int) -> None:
        """A successful sign-in: earlier wrong codes no longer count towards the freeze."""
        self.x("UPDATE wrong_codes SET answered = 1 WHERE partner_id = ? AND answered = 0", (partner_id,))

    # ---- passwords -----------------------------------------------------------------------
    def password_failures(self, partner_id: int, client: str) -> tuple[int, float | None]:
        """(failures, time of the last one) of one (account, client) bucket."""
        row = self.q1("SELECT failures, last_st FROM password_failures WHERE partner_id = ? AND client = ?",
                      (partner_id, client))
        return (0, None) if row is None else (int(row["failures"]), float(row["last_st"]))

    def add_password_failure(self, partner_id: int, client: str, now: float) -> None:
        self.x("INSERT INTO password_failures (partner_id, client, failures, last_st) VALUES (?, ?, 1, ?)"
               " ON CONFLICT (partner_id, client) DO UPDATE SET failures = failures + 1, last_st = excluded.last_st",
               (partner_id, client, now))

    def clear_password_failures(self, partner_id: int, client: str | None = None) -> None:
        """Forget one bucket's failures (a success), or all of the account's (client None)."""
        if client is None:
            self.x("DELETE FROM password_failures WHERE partner_id = ?", (partner_id,))
        else:
            self.x("DELETE FROM password_failures WHERE partner_id = ? AND client = ?", (partner_id, client))

    def is_trusted_device(self, partner_id: int, device_hash: str) -> bool:
        return self.q1("SELECT 1 FROM trusted_devices WHERE partner_id = ? AND device_hash = ?",
                       (partner_id, device_hash)) is not None

    def trust_device(self, partner_id: int, device_hash: str, now: float) -> None:
        self.x("INSERT OR IGNORE INTO trusted_devices (partner_id, device_hash, st) VALUES (?, ?, ?)",
               (partner_id, device_hash, now))

    def forget_account_limits(self, partner_id: int) -> None:
        """A new password or an unlock: password failures and the code-guessing count start over."""
        self.clear_password_failures(partner_id)
        self.x("DELETE FROM wrong_codes WHERE partner_id = ?", (partner_id,))

    # ---- forgot password -----------------------------------------------------------------
    def unused_reset_times(self, since: float, partner_id: int | None = None,
                           client: str | None = None) -> list[float]:
        """Times of forgot-password requests after `since` (of the account, or of the client)
        whose link was not used: pending and voided links count, and for a client also unknown
        usernames and refused requests (for an account refusals do not count, so an attacker
        repeating requests does not keep its owner's budget spent for ever)."""
        where, arg = (("r.partner_id = ? AND r.refused = 0", partner_id) if client is None
                      else ("r.client = ?", client))
        return [r["st"] for r in self.q(
            "SELECT r.st FROM reset_requests r LEFT JOIN reset_tokens t ON t.token_hash = r.token_hash"
            f" WHERE {where} AND r.st > ? AND t.used_st IS NULL", (arg, since))]

    def add_reset_request(self, now: float, client: str, partner_id: int | None, token_hash: str | None,
                          refused: bool = False) -> None:
        self.x("INSERT INTO reset_requests (st, client, partner_id, token_hash, refused) VALUES (?, ?, ?, ?, ?)",
               (now, client, partner_id, token_hash, int(refused)))

    def void_reset_tokens(self, partner_id: int) -> int:
        """Every unused reset link of the partner stops working (its password just changed)."""
        return self.x("DELETE FROM reset_tokens WHERE partner_id = ? AND used_st IS NULL", (partner_id,)).rowcount
