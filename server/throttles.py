"""SQL for the rate budgets (README "Security"): wrong codes, password failures per client,
trusted devices and forgot-password requests. A part of `Store` (`storage.py`), so every query
stays in the storage layer.

The decisions themselves are pure (`challenge.guess_budget`, `login_code_budget`,
`reset_budget`, `login_retry_after`); these methods only fetch their inputs and record outcomes.
"""

from __future__ import annotations

from .storage_core import StoreCore

UNTRUSTED = "*"  # the password-failure bucket every client without a trusted device shares


class ThrottleQueries(StoreCore):
    """Budget inputs and outcomes."""

    # ---- codes ---------------------------------------------------------------------------
    def unused_code_times(self, partner_id: int, since: float) -> list[float]:
        """Issue times of the account's codes after `since` that nobody used (voided ones count)."""
        return [r[0] for r in self._fetch_all("SELECT issued_st FROM codes WHERE partner_id = ? AND issued_st > ?"
                                              " AND used_st IS NULL", (partner_id, since))]

    def wrong_codes(self, partner_id: int, since: float) -> tuple[list[float], int]:
        """The account's wrong codes on sign-ins that did not succeed, in one read of the join:
        (when those after `since` were entered, how many came since its last successful sign-in)."""
        rows = self._fetch_all("SELECT w.st, w.answered FROM wrong_codes w JOIN challenges c ON c.id = w.challenge_id"
                               " WHERE w.partner_id = ? AND c.status != 'done' AND (w.st > ? OR w.answered = 0)",
                               (partner_id, since))
        return [st for st, _ in rows if st > since], sum(1 for _, answered in rows if not answered)

    def add_wrong_code(self, partner_id: int, challenge_id: int, now: float) -> None:
        self._execute("INSERT INTO wrong_codes (partner_id, challenge_id, st) VALUES (?, ?, ?)",
                      (partner_id, challenge_id, now))

    def answer_wrong_codes(self, partner_id: int) -> None:
        """A successful sign-in: earlier wrong codes no longer count towards the freeze."""
        self._execute("UPDATE wrong_codes SET answered = 1 WHERE partner_id = ? AND answered = 0", (partner_id,))

    # ---- passwords -----------------------------------------------------------------------
    def password_failures(self, partner_id: int, client: str) -> tuple[int, float | None]:
        """(failures, time of the last one) of one (account, client) bucket."""
        row = self._fetch_one("SELECT failures, last_st FROM password_failures WHERE partner_id = ? AND client = ?",
                              (partner_id, client))
        return (0, None) if row is None else (int(row[0]), float(row[1]))

    def add_password_failure(self, partner_id: int, client: str, now: float) -> None:
        self._execute("INSERT INTO password_failures (partner_id, client, failures, last_st) VALUES (?, ?, 1, ?)"
                      " ON CONFLICT (partner_id, client) DO UPDATE SET failures = failures + 1, last_st = excluded.last_st",
                      (partner_id, client, now))

    def clear_password_failures(self, partner_id: int, client: str | None = None) -> None:
        """Forget one bucket's failures (a success), or all of the account's (client None)."""
        if client is None:
            self._execute("DELETE FROM password_failures WHERE partner_id = ?", (partner_id,))
        else:
            self._execute("DELETE FROM password_failures WHERE partner_id = ? AND client = ?", (partner_id, client))

    def is_trusted_device(self, partner_id: int, device_hash: str) -> bool:
        return self._fetch_one("SELECT 1 FROM trusted_devices WHERE partner_id = ? AND device_hash = ?",
                               (partner_id, device_hash)) is not None

    def trust_device(self, partner_id: int, device_hash: str, now: float) -> None:
        self._execute("INSERT OR IGNORE INTO trusted_devices (partner_id, device_hash, st) VALUES (?, ?, ?)",
                      (partner_id, device_hash, now))

    def forget_account_limits(self, partner_id: int) -> None:
        """A new password or an unlock: password failures and the code-guessing count start over."""
        self.clear_password_failures(partner_id)
        self._execute("DELETE FROM wrong_codes WHERE partner_id = ?", (partner_id,))

    # ---- forgot password -----------------------------------------------------------------
    def unused_reset_times(self, since: float, partner_id: int | None = None,
                           client: str | None = None) -> list[float]:
        """Times of forgot-password requests after `since` (of the account, or of the client)
        whose link was not used: pending and voided links count, and for a client also unknown
        usernames and refused requests (for an account refusals do not count, so an attacker
        repeating requests does not keep its owner's budget spent for ever)."""
        where, arg = (("r.partner_id = ? AND r.refused = 0", partner_id) if client is None
                      else ("r.client = ?", client))
        return [r[0] for r in self._fetch_all(
            "SELECT r.st FROM reset_requests r LEFT JOIN reset_tokens t ON t.token_hash = r.token_hash"
            f" WHERE {where} AND r.st > ? AND t.used_st IS NULL", (arg, since))]

    def add_reset_request(self, now: float, client: str, partner_id: int | None, token_hash: str | None,
                          refused: bool = False) -> None:
        self._execute("INSERT INTO reset_requests (st, client, partner_id, token_hash, refused) VALUES (?, ?, ?, ?, ?)",
                      (now, client, partner_id, token_hash, int(refused)))

    def void_reset_tokens(self, partner_id: int) -> int:
        """Every unused reset link of the partner stops working (its password just changed)."""
        return self._execute("DELETE FROM reset_tokens WHERE partner_id = ? AND used_st IS NULL", (partner_id,)).rowcount
