"""Password use cases of the portal: change, forgot (reset link by email), reset.

A mixin of `Portal` (it uses its store, clock, policy, passwords and outbox), kept apart so the
sign-in use cases stay readable. Reset links are built from the configured public URL, never
from the request, and every password change voids the partner's other reset links.
"""

from __future__ import annotations

import secrets

from . import challenge as core
from .mail import new_message_id, reset_email
from .storage import sid_hash


def password_problem(new: str) -> str | None:
    if len(new) < 10:
        return "The new password must have at least 10 characters."
    if len(new) > 256:
        return "The new password is too long."
    return None


class PasswordRecovery:
    """change_password, request_reset, reset_token_valid, reset_password (on `Portal`)."""

    async def change_password(self, partner_id: int, current: str, new: str) -> str | None:
        """None on success, else a user-facing problem."""
        partner = self.store.partner(partner_id)
        if not await self.passwords.verify(partner.password_hash, current):
            return "The current password is not correct."
        problem = password_problem(new)
        if problem:
            return problem
        hashed = await self.passwords.hash(new)
        self.store.set_password(partner_id, hashed, new if self.harness else None, "my_account")
        return None

    def request_reset(self, username: str, client: str, device: str | None = None) -> None:
        """Mail a reset link unless a budget says no; the caller answers the same either way.

        Budgets (`core.reset_budget`): unused links per account (a device that signed in to the
        account before is exempt, so repeated requests by someone else cannot keep the owner
        from a link) and requests without a used link per client address."""
        partner = self.store.partner_by_username(username) if username else None
        pid = partner.id if partner else None
        now = self.clock.now()
        with self.store.tx():
            trusted = partner is not None and device is not None and self.store.is_trusted_device(pid, sid_hash(device))
            account = None if partner is None or trusted else self.store.unused_reset_times(now - core.HOUR,
                                                                                          partner_id=pid)
            budget = core.reset_budget(account, self.store.unused_reset_times(now - core.HOUR, client=client),
                                       now, self.policy)
            if not budget.allowed:
                self.store.add_reset_request(now, client, pid, None, refused=True)
                self.store.event("reset_refused", partner_id=pid, reason=budget.reason, retry_after=budget.retry_after)
                return
            if partner is None:
                self.store.add_reset_request(now, client, None, None)
                self.store.event("reset_requested", partner_id=None, message_id=None)
                return
            token = secrets.token_urlsafe(32)
            expires = now + self.policy.reset_token_lifetime
            message_id = new_message_id()
            recipient = partner.notification_email
            raw = reset_email(recipient, message_id, f"{self.public_url}/partner/reset-password?token={token}",
                              partner.username, self.policy.reset_token_lifetime / 60.0, self.clock.wall())
            self.store.add_reset_token(sid_hash(token), pid, expires)
            self.store.add_reset_request(now, client, pid, sid_hash(token))
            self._queue_mail(message_id, recipient, "reset", None, raw, expires)
            self.store.event("reset_requested", partner_id=pid, message_id=message_id)

    def reset_token_valid(self, token: str | None) -> bool:
        if not token:
            return False
        row = self.store.reset_token(sid_hash(token))
        return row is not None and row.used_st is None and row.expires_st > self.clock.now()

    async def reset_password(self, token: str, new: str, device: str | None = None) -> str | None:
        """None on success; 'bad_token' or a password problem otherwise.

        The new password voids every other reset link of the partner and ends its sessions;
        the browser that completed the reset becomes a trusted device of the account (it
        proved it reads the notification address), so it signs in past password throttling."""
        if not self.reset_token_valid(token):
            return "bad_token"
        problem = password_problem(new)
        if problem:
            return problem
        hashed = await self.passwords.hash(new)
        with self.store.tx():
            if not self.store.use_reset_token(sid_hash(token), self.clock.now()):
                return "bad_token"
            row = self.store.reset_token(sid_hash(token))
            self.store.set_password(row.partner_id, hashed, new if self.harness else None, "reset")
            self.store.end_sessions(row.partner_id)
            if device:
                self.store.trust_device(row.partner_id, sid_hash(device), self.clock.now())
        return None

    def session_after_reset(self, token: str) -> str:
        """Planted bug mfa-bypass-after-reset only: a full session, without MFA, for the reset's account."""
        row = self.store.reset_token(sid_hash(token))
        partner = self.store.partner(row.partner_id)
        with self.store.tx():
            return self._create_session(partner, "full", None, False,
                                        self.clock.now() + self.policy.session_lifetime)
