"""The portal's use cases (login, code issue, verify, resend, reset, support actions).

A thin shell around the pure `challenge` module: it loads state from `Store`, asks
`challenge.decide_*`, and writes the outcome plus its audit events in one transaction. The
Tornado handlers only translate HTTP to these calls and back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from . import challenge as core
from .clock import ScenarioClock
from .mail import code_email, new_message_id, validate_address
from .outbox import Outbox
from .passwords import Passwords
from .policy import Policy
from .recovery import PasswordRecovery
from .rows import Challenge, Code, Partner, Session
from .storage import Store, session_tag, sid_hash
from .throttles import UNTRUSTED

REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class LoginResult:
    ok: bool
    pending_sid: str | None = None  # partner (or challenged affiliate): go to /partner/verify
    session_sid: str | None = None  # affiliate: signed in
    ref: str | None = None
    refused: core.Budget | None = None  # right password, but no code may be sent now (429)


@dataclass
class VerifyResult:
    ok: bool
    reason: str | None = None  # event reason
    session_sid: str | None = None
    next_path: str = "/partner/account"
    program: str | None = None


@dataclass
class ResendResult:
    ok: bool
    reason: str | None = None
    retry_after: float = 0.0  # scenario seconds


class _Abort(Exception):
    """Roll back a transaction and report `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Portal(PasswordRecovery):
    def __init__(self, store: Store, clock: ScenarioClock, policy: Policy, passwords: Passwords,
                 outbox: Outbox | None, bugs: frozenset[str], code_key: bytes, harness: bool,
                 public_url: str = "http://127.0.0.1") -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.passwords = passwords
        self.outbox = outbox
        self.bugs = bugs
        self.code_key = code_key
        self.harness = harness
        self.public_url = public_url.rstrip("/")  # base of reset links (`--public-url`), never the Host

    # ---- helpers -------------------------------------------------------------------------
    def code_hmac(self, code: str) -> str:
        return hmac.new(self.code_key, code.encode(), hashlib.sha256).hexdigest()

    def _new_ref(self) -> str:
        return "".join(secrets.choice(REF_ALPHABET) for _ in range(8))

    def _queue_mail(self, message_id: str, recipient: str, kind: str, code_id: int | None, raw: bytes,
                    expires: float) -> None:
        """Queue a mail in the caller's transaction; this process's sender takes it straight after the
        commit when it has room (no poll, no claim transaction), else a poll does."""
        outbox = self.outbox
        claim = outbox.hand_off_claim() if outbox is not None else None
        row = self.store.enqueue_mail(message_id, recipient, kind, code_id, raw, expires, claim)
        if outbox is not None and claim is not None:
            self.store.after_commit(lambda: outbox.hand_off(row))

    def recipient_for(self, partner: Partner) -> str:
        """Where the verification code goes: the notification address (bug: the username)."""
        if "wrong-recipient" in self.bugs:
            return partner.username
        return partner.notification_email

    def _challenge_state(self, row: Challenge) -> core.ChallengeState:
        return core.ChallengeState(id=row.id, partner_id=row.partner_id, expires_at=row.expires_st,
                                   wrong_attempts=row.wrong_attempts, status=row.status)

    @staticmethod
    def _code_state(row: Code) -> core.CodeState:
        return core.CodeState(id=row.id, challenge_id=row.challenge_id, issued_at=row.issued_st,
                              expires_at=row.expires_st, used=row.used_st is not None,
                              voided=row.voided is not None)

    def pending(self, pending_sid: str | None) -> tuple[Session | None, Challenge | None]:
        """(session row, challenge row) for a pending-login cookie, or (None, None)."""
        if not pending_sid:
            return None, None
        sess = self.store.session(sid_hash(pending_sid))
        if sess is None or sess.kind != "pending":
            return None, None
        return sess, self.store.challenge(sess.challenge_id)

    def full_session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        sess = self.store.session(sid_hash(sid))
        if sess is None or sess.kind != "full" or sess.expires_st <= self.clock.now():
            return None
        return sess

    def _create_session(self, partner: Partner, kind: str, challenge_id: int | None, mfa: bool, expires: float) -> str:
        sid = secrets.token_urlsafe(32)
        self.store.add_session(sid_hash(sid), kind, partner.id, partner.program, challenge_id, mfa,
                               self.clock.now(), expires)
        if kind == "full":
            self.store.event("session_created", session=session_tag(sid), partner_id=partner.id,
                             program=partner.program, mfa=mfa, challenge_id=challenge_id)
        return sid

    def _issue_code(self, ch: Challenge, partner: Partner, reason: str) -> int:
        """Create a code for challenge `ch`, queue its email; caller holds the transaction."""
        now, wall = self.clock.now(), self.clock.wall()
        code = f"{secrets.randbelow(10 ** 6):06d}"
        if "codes-repeat" in self.bugs:
            code = f"{(int(partner.id) * 7919 + 4242) % 10 ** 6:06d}"
        recipient = self.recipient_for(partner)
        message_id = new_message_id()
        expires = now + self.policy.code_lifetime
        raw = code_email(recipient, message_id, code, ch.ref, partner.username,
                         self.policy.code_lifetime / 60.0, wall)
        code_id = self.store.add_code(ch.id, partner.id, self.code_hmac(code), recipient, message_id, now, expires)
        self.store.event("code_issued", challenge_id=ch.id, code_id=code_id, partner_id=partner.id,
                         recipient=recipient, message_id=message_id, expires_at=expires, reason=reason)
        self._queue_mail(message_id, recipient, "code", code_id, raw, expires)
        return code_id

    def _guess_budget(self, partner_id: int, now: float) -> core.Budget:
        failed, unanswered = self.store.wrong_codes(partner_id, now - core.HOUR)
        return core.guess_budget(failed, unanswered, now, self.policy, self.bugs)

    def _login_budget(self, partner_id: int, now: float) -> core.Budget:
        failed, unanswered = self.store.wrong_codes(partner_id, now - core.HOUR)
        return core.login_code_budget(self.store.unused_code_times(partner_id, now - core.HOUR), failed, unanswered,
                                      now, self.policy, self.bugs)

    def _password_ok(self, partner: Partner, bucket: str | None, device: str | None) -> None:
        """Inside the login's transaction: the bucket's failures end, the device is trusted."""
        self.store.login_succeeded(partner.id, bucket)
        if device:
            self.store.trust_device(partner.id, sid_hash(device), self.clock.now())

    def start_challenge(self, partner: Partner, next_path: str | None, bucket: str | None = None,
                        device: str | None = None) -> LoginResult:
        now = self.clock.now()
        expires = now + self.policy.pending_lifetime
        with self.store.tx():
            if self._locked_meanwhile(partner):
                return LoginResult(False)
            self._password_ok(partner, bucket, device)
            budget = self._login_budget(partner.id, now)
            if not budget.allowed:
                self.store.event("login_failed", username=partner.username, reason=budget.reason,
                                 retry_after=budget.retry_after)
                return LoginResult(False, refused=budget)
            for _ in range(20):
                ref = self._new_ref()
                if not self.store.ref_taken(ref):
                    break
            challenge_id = self.store.create_challenge(ref, partner.id, partner.program, now, expires,
                                                       core.sanitize_next(next_path))
            self.store.event("challenge_created", challenge_id=challenge_id, ref=ref, partner_id=partner.id,
                             username=partner.username, program=partner.program, expires_at=expires)
            sid = self._create_session(partner, "pending", challenge_id, False, expires)
            self._issue_code(self.store.challenge(challenge_id), partner, "login")
            if "double-code" in self.bugs:
                self._issue_code(self.store.challenge(challenge_id), partner, "login")
        return LoginResult(True, pending_sid=sid, ref=ref)

    # ---- login ---------------------------------------------------------------------------
    def _locked_meanwhile(self, partner: Partner) -> bool:
        """Inside the login's transaction: was the account locked while its password was hashed?

        The password check runs outside any transaction (argon2 takes a while), so a lock can
        commit between it and the write; this re-check keeps a locked account from getting a
        new pending login or session. The caller answers with the generic failure."""
        if not self.store.is_locked(partner.id):
            return False
        self.store.login_failed(partner.id, partner.username, "locked", self.clock.now())
        return True

    def password_bucket(self, partner_id: int, device: str | None) -> str:
        """Whose password failures this attempt counts with and waits for.

        A device (browser cookie) that signed in to the account before, or completed a reset
        for it, has a bucket of its own; every other client shares the account's `*` bucket. So
        wrong passwords from someone who knows only the username throttle `*`, never the owner's
        own browser (OWASP "device cookies"), and a reset opens a path on a new browser."""
        if device:
            digest = sid_hash(device)
            if self.store.is_trusted_device(partner_id, digest):
                return "device:" + digest[:32]
        return UNTRUSTED

    async def _check_password(self, username: str, password: str, form: str, device: str | None = None):
        """(partner row or None, reason or None, bucket). Always runs one argon2 verify."""
        partner = self.store.partner_by_username(username) if username else None
        ok = await self.passwords.verify(partner.password_hash if partner else None, password)
        if partner is None:
            return None, "unknown_user", None
        now = self.clock.now()
        bucket = self.password_bucket(partner.id, device)
        failures, last = self.store.password_failures(partner.id, bucket)
        if core.login_retry_after(failures, last, now, self.policy) > 0:
            return partner, "throttled", bucket
        if partner.locked:
            return partner, "locked", bucket
        if not ok:
            return partner, "bad_password", bucket
        if form == "partner" and partner.program == "affiliate":
            return partner, "affiliate_on_partner", bucket
        if form == "affiliate" and partner.program != "affiliate":
            return partner, "unknown_user", bucket
        return partner, None, bucket

    async def login_partner(self, username: str, password: str, next_path: str | None,
                            device: str | None = None) -> LoginResult:
        partner, reason, bucket = await self._check_password(username, password, "partner", device)
        if reason is not None:
            self.store.login_failed(partner.id if partner else None, username, reason, self.clock.now(), bucket)
            return LoginResult(False)
        return self.start_challenge(partner, next_path, bucket, device)

    async def login_affiliate(self, username: str, password: str, device: str | None = None) -> LoginResult:
        partner, reason, bucket = await self._check_password(username, password, "affiliate", device)
        if reason is not None:
            self.store.login_failed(partner.id if partner else None, username, reason, self.clock.now(), bucket)
            return LoginResult(False)
        if "affiliate-challenged" in self.bugs:
            return self.start_challenge(partner, "/affiliate/dashboard", bucket, device)
        with self.store.tx():
            if self._locked_meanwhile(partner):
                return LoginResult(False)
            self._password_ok(partner, bucket, device)
            sid = self._create_session(partner, "full", None, False, self.clock.now() + self.policy.session_lifetime)
            self.store.event("affiliate_login", partner_id=partner.id, session=session_tag(sid))
        return LoginResult(True, session_sid=sid)

    # ---- verify --------------------------------------------------------------------------
    def _verify_fail(self, challenge_id: int | None, reason: str, code_id: int | None, attempts: int,
                     **extra) -> VerifyResult:
        self.store.event("verify_fail", challenge_id=challenge_id, reason=reason, code_id=code_id, attempts=attempts,
                         **extra)
        return VerifyResult(False, reason)

    async def verify(self, pending_sid: str | None, code: str) -> VerifyResult:
        sess, ch = self.pending(pending_sid)
        if sess is None or ch is None:
            with self.store.tx():
                return self._verify_fail(None, "no_challenge", None, 0)
        digest = self.code_hmac("".join(code.split()))
        # Decide and consume inside one write transaction: concurrent wrong codes are counted one
        # by one, so the attempt limit holds however many guesses arrive at once, and a right code
        # opens one session (the conditional updates of `_consume` stay the guarantee).
        try:
            with self.store.tx():
                ch = self.store.challenge(ch.id)
                partner = self.store.partner(ch.partner_id)
                now = self.clock.now()
                candidates, decision = self._decide_verify(ch, partner, digest, now)
                if not decision.ok:
                    return self._reject(ch, partner, decision, now)
                code_row = next(r for r in candidates if r.id == decision.code_id)
                if "race-on-verify" not in self.bugs:
                    return self._consume(sess, ch, partner, code_row)
        except _Abort as abort:  # the whole transaction rolled back: only the refusal is logged
            with self.store.tx():
                return self._verify_fail(ch.id, abort.reason, code_row.id, ch.wrong_attempts)
        now = self.clock.now()
        await asyncio.sleep(0.1)  # the planted race: the check above is stale by now
        with self.store.tx():
            self.store.consume_code_unchecked(code_row.id, ch.id, now)
            self.store.delete_session(sess.sid_hash)
            return self._verified(ch, partner, code_row)

    def _decide_verify(self, ch: Challenge, partner: Partner, digest: str,
                       now: float) -> tuple[list[Code], core.VerifyDecision]:
        """(the codes that may open `ch`, the decision on the submitted code's HMAC `digest`)."""
        if "code-not-bound" in self.bugs:
            candidates = self.store.codes_of_partner(partner.id)
        else:
            candidates = self.store.codes_of_challenge(ch.id)
        matches = [self._code_state(r) for r in candidates if hmac.compare_digest(r.code_hmac, digest)]
        budget = self._guess_budget(partner.id, now)
        return candidates, core.decide_verify(self._challenge_state(ch), matches, now, self.policy, self.bugs, budget)

    def _reject(self, ch: Challenge, partner: Partner, decision: core.VerifyDecision, now: float) -> VerifyResult:
        """Inside the verify's transaction: count a wrong code, end the challenge if it dies, log why."""
        attempts = ch.wrong_attempts + (1 if decision.count_wrong else 0)
        if decision.count_wrong:
            self.store.count_wrong_attempt(partner.id, ch.id, now)
        if decision.kill and ch.status == "pending":
            self.store.end_challenge(ch.id, "expired" if decision.reason == "challenge_dead" else "dead")
        cap = {"cap": decision.cap} if decision.cap else {}
        return self._verify_fail(ch.id, decision.reason, decision.code_id, attempts, **cap)

    def _consume(self, sess: Session, ch: Challenge, partner: Partner, code_row: Code) -> VerifyResult:
        """Inside the verify's transaction: mark the code used and the challenge done exactly once,
        then open the session; `_Abort` (the transaction rolls back) if another request was first."""
        if "code-reuse" in self.bugs:  # nothing is consumed: code, challenge and pending login stay usable
            return self._verified(ch, partner, code_row)
        if not self.store.consume_code(code_row.id, self.clock.now()):
            raise _Abort("used")
        if not self.store.complete_challenge(ch.id):
            raise _Abort("no_challenge")
        self.store.delete_session(sess.sid_hash)
        return self._verified(ch, partner, code_row)

    def _verified(self, ch: Challenge, partner: Partner, code_row: Code) -> VerifyResult:
        self.store.answer_wrong_codes(partner.id)
        self.store.event("verify_ok", challenge_id=ch.id, code_id=code_row.id, partner_id=partner.id,
                         code_expires_at=code_row.expires_st)
        sid = self._create_session(partner, "full", ch.id, True, self.clock.now() + self.policy.session_lifetime)
        default = "/affiliate/dashboard" if partner.program == "affiliate" else "/partner/account"
        return VerifyResult(True, session_sid=sid, next_path=ch.next_path or default, program=partner.program)

    # ---- resend --------------------------------------------------------------------------
    def resend(self, pending_sid: str | None) -> ResendResult:
        sess, ch = self.pending(pending_sid)
        if sess is None or ch is None:
            return ResendResult(False, "no_challenge")
        partner = self.store.partner(ch.partner_id)
        now = self.clock.now()
        with self.store.tx():
            ch = self.store.challenge(ch.id)
            times = [r.issued_st for r in self.store.codes_of_challenge(ch.id)]
            account = [r.issued_st for r in self.store.codes_of_partner(partner.id, since=now - core.HOUR)]
            d = core.decide_resend(self._challenge_state(ch), times, account, now, self.policy, self.bugs)
            if not d.allowed:
                self.store.event("resend_refused", challenge_id=ch.id, reason=d.reason, retry_after=d.retry_after)
                return ResendResult(False, d.reason, d.retry_after)
            code_id = self._issue_code(ch, partner, "resend")
            if d.void_older and "resend-keeps-old-code" not in self.bugs:
                self.store.void_codes(ch.id, "resend_invalidate", keep=code_id)
            self.store.event("resend_allowed", challenge_id=ch.id, code_id=code_id,
                             codes_in_challenge=d.codes_in_challenge, codes_in_hour=d.codes_in_hour)
        return ResendResult(True)

    def resend_preview(self, ch: Challenge, codes: list[Code] | None = None) -> core.ResendDecision:
        """What a resend would get now (nothing is written): for showing the cooldown. `codes`: the
        challenge's codes if the caller has just read them (the verify page reads them once)."""
        now = self.clock.now()
        times = [r.issued_st for r in (self.store.codes_of_challenge(ch.id) if codes is None else codes)]
        account = [r.issued_st for r in self.store.codes_of_partner(ch.partner_id, since=now - core.HOUR)]
        return core.decide_resend(self._challenge_state(ch), times, account, now, self.policy, self.bugs)

    def code_remaining(self, ch: Challenge, codes: list[Code] | None = None) -> float | None:
        """Scenario seconds the newest live code of the challenge stays valid, or None."""
        now = self.clock.now()
        live = [r for r in (self.store.codes_of_challenge(ch.id) if codes is None else codes)
                if r.used_st is None and r.voided is None and r.expires_st > now]
        return max(r.expires_st for r in live) - now if live else None

    # ---- sessions, passwords, support ----------------------------------------------------
    def logout(self, *sids: str | None) -> None:
        with self.store.tx():
            for sid in sids:
                if sid:
                    self.store.delete_session(sid_hash(sid))

    def set_notification_email(self, partner_id: int, address: str) -> list[int]:
        """Support action; raises AddressError or KeyError. Returns the voided code ids."""
        return self.store.set_notification_email(partner_id, validate_address(address))

    def set_locked(self, partner_id: int, locked: bool, via: str) -> dict:
        """Support action (lock / unlock); raises KeyError. See `Store.set_locked`."""
        return self.store.set_locked(partner_id, locked, via)

