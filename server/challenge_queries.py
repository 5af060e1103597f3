"""Storage operations of a sign-in: challenges, their codes, and sessions.

A part of `Store` (`storage.py`). The single-use guarantees live in the conditional updates
here (`consume_code`, `complete_challenge`): only the caller whose UPDATE changed the row wins,
whatever the number of portal processes. The use case (`portal.py`) decides which operations
belong in one transaction.
"""

from __future__ import annotations

from .rows import Challenge, Code, Session, columns
from .storage_core import StoreCore

CHALLENGE = columns(Challenge)
CODE = columns(Code)
SESSION = columns(Session)


class ChallengeQueries(StoreCore):
    """Challenges (pending logins), codes (HMACs) and sessions (hashed ids)."""

    # ---- challenges ----------------------------------------------------------------------
    def ref_taken(self, ref: str) -> bool:
        """Whether a challenge already shows this reference in its emails."""
        return self._fetch_one("SELECT 1 FROM challenges WHERE ref = ?", (ref,)) is not None

    def create_challenge(self, ref: str, partner_id: int, program: str, now: float, expires: float,
                         next_path: str | None) -> int:
        cur = self._execute("INSERT INTO challenges (ref, partner_id, program, created_st, expires_st, next_path)"
                            " VALUES (?, ?, ?, ?, ?, ?)", (ref, partner_id, program, now, expires, next_path))
        return int(cur.lastrowid)

    def challenge(self, challenge_id: int) -> Challenge | None:
        row = self._fetch_one(f"SELECT {CHALLENGE} FROM challenges WHERE id = ?", (challenge_id,))
        return None if row is None else Challenge._make(row)

    def count_wrong_attempt(self, partner_id: int, challenge_id: int, now: float) -> None:
        """A wrong code: one more attempt on the challenge, and one more towards the account's guess budgets."""
        self._execute("UPDATE challenges SET wrong_attempts = wrong_attempts + 1 WHERE id = ?", (challenge_id,))
        self.add_wrong_code(partner_id, challenge_id, now)

    def end_challenge(self, challenge_id: int, status: str) -> None:
        """A pending challenge becomes `status` (dead or expired) and its unused codes are voided."""
        self._execute("UPDATE challenges SET status = ? WHERE id = ? AND status = 'pending'", (status, challenge_id))
        self.void_codes(challenge_id, "challenge_dead")

    def complete_challenge(self, challenge_id: int) -> bool:
        """Pending to done, once: False when another request completed or ended it first."""
        return self._execute("UPDATE challenges SET status = 'done' WHERE id = ? AND status = 'pending'",
                             (challenge_id,)).rowcount == 1

    # ---- codes ---------------------------------------------------------------------------
    def codes_of_challenge(self, challenge_id: int) -> list[Code]:
        return list(map(Code._make, self._fetch_all(f"SELECT {CODE} FROM codes WHERE challenge_id = ? ORDER BY id",
                                                    (challenge_id,))))

    def codes_of_partner(self, partner_id: int, since: float | None = None) -> list[Code]:
        if since is None:
            rows = self._fetch_all(f"SELECT {CODE} FROM codes WHERE partner_id = ? ORDER BY id", (partner_id,))
        else:
            rows = self._fetch_all(f"SELECT {CODE} FROM codes WHERE partner_id = ? AND issued_st > ? ORDER BY id",
                                   (partner_id, since))
        return list(map(Code._make, rows))

    def add_code(self, challenge_id: int, partner_id: int, code_hmac: str, recipient: str, message_id: str,
                 issued: float, expires: float) -> int:
        cur = self._execute("INSERT INTO codes (challenge_id, partner_id, code_hmac, recipient, message_id, issued_st,"
                            " expires_st) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (challenge_id, partner_id, code_hmac, recipient, message_id, issued, expires))
        return int(cur.lastrowid)

    def void_codes(self, challenge_id: int, reason: str, keep: int | None = None) -> list[int]:
        """Void the challenge's unused codes but `keep`, one `code_voided` event each; returns their ids."""
        rows = self._fetch_all("SELECT id FROM codes WHERE challenge_id = ? AND used_st IS NULL AND voided IS NULL",
                               (challenge_id,))
        voided = [r[0] for r in rows if r[0] != keep]
        for code_id in voided:
            self._execute("UPDATE codes SET voided = ? WHERE id = ?", (reason, code_id))
            self.event("code_voided", code_id=code_id, challenge_id=challenge_id, reason=reason)
        return voided

    def consume_code(self, code_id: int, now: float) -> bool:
        """Mark the code used, once: False when it was used or voided meanwhile."""
        return self._execute("UPDATE codes SET used_st = ? WHERE id = ? AND used_st IS NULL AND voided IS NULL",
                             (now, code_id)).rowcount == 1

    def consume_code_unchecked(self, code_id: int, challenge_id: int, now: float) -> None:
        """Planted bug `race-on-verify` only: mark used and done whatever another request did meanwhile."""
        self._execute("UPDATE codes SET used_st = ? WHERE id = ?", (now, code_id))
        self._execute("UPDATE challenges SET status = 'done' WHERE id = ?", (challenge_id,))

    # ---- sessions ------------------------------------------------------------------------
    def add_session(self, sid_hash: str, kind: str, partner_id: int, program: str, challenge_id: int | None,
                    mfa: bool, now: float, expires: float) -> None:
        self._execute("INSERT INTO sessions (sid_hash, kind, partner_id, program, challenge_id, mfa, created_st,"
                      " expires_st) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (sid_hash, kind, partner_id, program, challenge_id, int(mfa), now, expires))

    def session(self, sid_hash: str) -> Session | None:
        row = self._fetch_one(f"SELECT {SESSION} FROM sessions WHERE sid_hash = ?", (sid_hash,))
        return None if row is None else Session._make(row)

    def delete_session(self, sid_hash: str) -> int:
        return self._execute("DELETE FROM sessions WHERE sid_hash = ?", (sid_hash,)).rowcount
