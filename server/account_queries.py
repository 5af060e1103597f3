"""Storage operations on accounts: partners, passwords, support actions, reset links.

A part of `Store` (`storage.py`). Each support action (address change, lock, unlock, password
change) is one transaction together with its audit events, as an acknowledged change must be.
"""

from __future__ import annotations

from typing import Any

from .rows import Partner, ResetToken, columns
from .storage_core import StoreCore

PARTNER = columns(Partner)
RESET_TOKEN = columns(ResetToken)


class AccountQueries(StoreCore):
    """Partners and their reset links."""

    # ---- partners ------------------------------------------------------------------------
    def partner_count(self) -> int:
        return int(self._fetch_one("SELECT COUNT(*) FROM partners")[0])

    def add_partner(self, program: str, username: str, password_hash: str, seed_password: str | None,
                    notification_email: str, team: str | None) -> int:
        cur = self._execute("INSERT INTO partners (program, username, password_hash, seed_password,"
                            " notification_email, team) VALUES (?, ?, ?, ?, ?, ?)",
                            (program, username, password_hash, seed_password, notification_email, team))
        return int(cur.lastrowid)

    def partner_by_username(self, username: str) -> Partner | None:
        row = self._fetch_one(f"SELECT {PARTNER} FROM partners WHERE username = ?", (username,))
        return None if row is None else Partner._make(row)

    def partner(self, partner_id: int) -> Partner | None:
        row = self._fetch_one(f"SELECT {PARTNER} FROM partners WHERE id = ?", (partner_id,))
        return None if row is None else Partner._make(row)

    def accounts(self) -> list[dict[str, Any]]:
        """Every partner as `/_harness/accounts` shows it (with the plaintext password, if kept)."""
        partners = map(Partner._make, self._fetch_all(f"SELECT {PARTNER} FROM partners ORDER BY id"))
        return [{"partner_id": p.id, "program": p.program, "username": p.username, "password": p.seed_password,
                 "notification_email": p.notification_email, "team": p.team, "locked": bool(p.locked)}
                for p in partners]

    def is_locked(self, partner_id: int) -> bool:
        row = self._fetch_one("SELECT locked FROM partners WHERE id = ?", (partner_id,))
        return row is not None and bool(row[0])

    def forget_plaintext_passwords(self) -> int:
        """Outside harness mode no plaintext password stays in the database (an older run's too)."""
        with self.tx():
            return self._execute("UPDATE partners SET seed_password = NULL WHERE seed_password IS NOT NULL").rowcount

    # ---- sign-in outcomes ----------------------------------------------------------------
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

    def end_sessions(self, partner_id: int) -> int:
        """Delete every session of the partner, pending and signed in; returns how many."""
        return self._execute("DELETE FROM sessions WHERE partner_id = ?", (partner_id,)).rowcount

    # ---- support actions and password changes ------------------------------------------
    def set_password(self, partner_id: int, password_hash: str, plaintext_for_harness: str | None, via: str) -> None:
        with self.tx():
            self._execute("UPDATE partners SET password_hash = ?, seed_password = ? WHERE id = ?",
                          (password_hash, plaintext_for_harness, partner_id))
            self.forget_account_limits(partner_id)
            voided = self.void_reset_tokens(partner_id)
            self.event("password_changed", partner_id=partner_id, via=via, reset_links_voided=voided)

    def void_partner_codes(self, partner_id: int, reason: str) -> list[int]:
        """Void every unused code of the partner, one `code_voided` event each; returns their ids."""
        voided = []
        for code_id, challenge_id in self._fetch_all("SELECT id, challenge_id FROM codes WHERE partner_id = ?"
                                                     " AND used_st IS NULL AND voided IS NULL ORDER BY id",
                                                     (partner_id,)):
            self._execute("UPDATE codes SET voided = ? WHERE id = ?", (reason, code_id))
            self.event("code_voided", code_id=code_id, challenge_id=challenge_id, reason=reason)
            voided.append(code_id)
        return voided

    def set_notification_email(self, partner_id: int, address: str) -> list[int]:
        """Change the address and void every unused code of the partner; returns voided ids."""
        with self.tx():
            row = self.partner(partner_id)
            if row is None:
                raise KeyError(partner_id)
            self._execute("UPDATE partners SET notification_email = ? WHERE id = ?", (address, partner_id))
            live = self.void_partner_codes(partner_id, "address_changed")
            self.event("notification_changed", partner_id=partner_id, old=row.notification_email, new=address,
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
            was_locked = bool(row.locked)
            if locked:
                return self._lock_partner(partner_id, via, was_locked)
            self._execute("UPDATE partners SET locked = 0 WHERE id = ?", (partner_id,))
            self.forget_account_limits(partner_id)
            self.event("account_unlocked", partner_id=partner_id, via=via, was_locked=was_locked)
            return {"partner_id": partner_id, "locked": False, "was_locked": was_locked, "challenges": [],
                    "voided": [], "sessions": 0}

    def _lock_partner(self, partner_id: int, via: str, was_locked: bool) -> dict[str, Any]:
        """Inside `set_locked`'s transaction: lock, and end what the partner has open."""
        self._execute("UPDATE partners SET locked = 1 WHERE id = ?", (partner_id,))
        challenges = [r[0] for r in self._fetch_all("SELECT id FROM challenges WHERE partner_id = ?"
                                                    " AND status = 'pending' ORDER BY id", (partner_id,))]
        self._execute("UPDATE challenges SET status = 'dead' WHERE partner_id = ? AND status = 'pending'",
                      (partner_id,))
        voided = self.void_partner_codes(partner_id, "account_locked")
        sessions = self.end_sessions(partner_id)
        self.event("account_locked", partner_id=partner_id, via=via, was_locked=was_locked,
                   challenges=challenges, voided=voided, sessions=sessions)
        return {"partner_id": partner_id, "locked": True, "was_locked": was_locked, "challenges": challenges,
                "voided": voided, "sessions": sessions}

    # ---- reset links ---------------------------------------------------------------------
    def add_reset_token(self, token_hash: str, partner_id: int, expires: float) -> None:
        self._execute("INSERT INTO reset_tokens (token_hash, partner_id, expires_st) VALUES (?, ?, ?)",
                      (token_hash, partner_id, expires))

    def reset_token(self, token_hash: str) -> ResetToken | None:
        row = self._fetch_one(f"SELECT {RESET_TOKEN} FROM reset_tokens WHERE token_hash = ?", (token_hash,))
        return None if row is None else ResetToken._make(row)

    def use_reset_token(self, token_hash: str, now: float) -> bool:
        """Single use: only the first caller flips used_st."""
        cur = self._execute("UPDATE reset_tokens SET used_st = ? WHERE token_hash = ? AND used_st IS NULL"
                            " AND expires_st > ?", (now, token_hash, now))
        return cur.rowcount == 1
