"""Probing personas: behaviours that give a black-box checker something to decide.

Against a foreign portal there is no event log; these users provoke what the checker can then
judge from their own history and the inbox's deliveries:
- `resend-mixer`: a wrong guess, a resend, then the older code (void under an "invalidate"
  policy), then the newer one; it reads every code mail of its login and notes extra ones;
- `replayer`: signs in twice; replays the first login's used code in the second, then tries the
  newest code mail that predates the second login (a teammate's on a shared address);
- `session-reuser`: after logout reuses the old session cookie, and presses "back" to submit
  the used code again with the old pending cookie;
- `protected-visitor`: with a pending (unverified) login visits every protected path.
Every loop is bounded; every step is an operation in the history.
"""

from __future__ import annotations

from . import decisions
from .inbox_client import Mail
from .personas import FlowState, MfaUser

EXTRA_WAIT_ST = 20.0      # scenario seconds a reader waits for a further mail of the same attempt


class ResendMixer(MfaUser):
    """Mixes a wrong guess with a resend, then types the older code before the newer one."""

    persona = "resend-mixer"
    programs = ("reseller", "agency")

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        first = self.get_code(fs)
        if first is None:
            return "no_code"
        self.read_extra(fs)
        result = self.verify(fs, decisions.typo(first.code or "", self.rng), fs.ref)
        if result != "wrong":
            return self.settle(fs, result)
        second = self.read_code(fs, self.h.opts.code_timeout) if self.resend_when_allowed(fs) else None
        codes = [first.code or ""] + ([second.code] if second is not None and second.code else [])
        for code in codes:                     # the older code first: void under "invalidate"
            result = self.verify(fs, code, fs.ref)
            if result != "wrong":
                break
        return self.settle(fs, result)

    def resend_when_allowed(self, fs: FlowState) -> bool:
        """Resend; after a refusal with a retry hint, wait it out and try once more."""
        if self.resend(fs):
            return True
        self.pause(min(fs.retry_after or 35.0, 120.0) + 1.0)
        return self.resend(fs)

    def read_extra(self, fs: FlowState) -> Mail | None:
        """Any further code mail of the same attempt (a correct portal sends none without a resend)."""
        return self.read_code(fs, EXTRA_WAIT_ST, purpose="extra")

    def settle(self, fs: FlowState, result: str) -> str:
        if result == "ok":
            return self.after_verify(fs)
        if result == "bounced":
            return self.sign_in_again(fs)
        return decisions.outcome_of_verify(result)


class Replayer(ResendMixer):
    """Signs in, then again: replays the used code, then a teammate's, then its own."""

    persona = "replayer"
    programs = ("agency", "reseller")

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        used = self.get_code(fs)
        if used is None:
            return "no_code"
        result = self.enter_code(fs, used)
        if result != "ok":
            return self.settle(fs, result)
        first = self.after_verify(fs)
        if first != "ok":
            return first
        before = self.inbox.current_seq()
        fs.ref, fs.verified = None, False
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        own = self.get_code(fs)
        if own is None:
            return "no_code"
        result = self.verify(fs, used.code or "", fs.ref, source="replay")
        if result == "wrong":
            mate = self.teammate_code(fs, before)
            if mate is not None and mate.code and mate.code not in (own.code, used.code):
                result = self.verify(fs, mate.code, fs.ref, source="teammate")
        if result == "wrong":
            result = self.verify(fs, own.code or "", fs.ref)
        return self.settle(fs, result)

    def teammate_code(self, fs: FlowState, before_seq: int) -> Mail | None:
        """The newest code mail to this account's address that predates this login."""
        p = self.h.profile
        query = " ".join(x for x in (f"to:{self.account.notification_email}", p.code_query) if x)
        with self.rec.op("read_code", {"query": query, "before_seq": before_seq, "source": "teammate"}) as op:
            mail = self.inbox.newest_before(query, before_seq)
            if mail is None:
                op.fail({"reason": "none"})
                return None
            op.ok({"code": mail.code, "seq": mail.seq, "message_id": mail.message_id, "folder": mail.folder,
                   "ref": mail.ref})
            return mail


class SessionReuser(MfaUser):
    """After logout reuses the old session cookie, then presses "back" and submits the code again."""

    persona = "session-reuser"
    programs = ("reseller", "agency")

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        mail = self.get_code(fs)
        if mail is None:
            return "no_code"
        pending, form = self.portal.snapshot(), fs.verify_page
        result = self.enter_code(fs, mail)
        if result != "ok":
            return decisions.outcome_of_verify(result)
        if not self.access_account(fs):
            return "error"
        signed_in = self.portal.snapshot()
        self.logout(fs)
        self.portal.restore(signed_in)             # the old session cookie, after logout
        self.reuse_session(fs)
        self.portal.restore(pending)               # "back" to the code page, same code again
        self.verify(fs, mail.code or "", fs.ref, page=form, loop_check=False)
        self.portal.clear_cookies()
        return "ok"

    def reuse_session(self, fs: FlowState) -> None:
        p = self.h.profile
        with self.rec.op("access_account", {"path": p.paths["account"], "after_logout": True}) as op:
            res = self.portal.get(p.paths["account"])
            if res.error:
                op.info({"reason": "connection", "error": res.error})
            elif res.page == "account":
                op.ok({"status": res.status, "page": res.page, "after_logout": True})
            else:
                op.fail({"landed": res.path, "page": res.page, "status": res.status})


class ProtectedVisitor(MfaUser):
    """With a pending login, visits every protected path; none may show partner data."""

    persona = "protected-visitor"

    def protected_paths(self) -> list[str]:
        p = self.h.profile
        listed = p.extra.get("protected_paths") or []
        paths = [p.paths["account"], *([p.paths["my_account"]] if "my_account" in p.paths else []), *listed]
        return list(dict.fromkeys(str(x) for x in paths))

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        for path in self.protected_paths():
            self.visit(path)
        fs.last_page = fs.verify_page
        return self.code_and_verify(fs)

    def visit(self, path: str) -> None:
        with self.rec.op("visit", {"path": path, "pending": True}) as op:
            res = self.portal.get(path)
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return
            op.ok({"page": res.page, "status": res.status, "landed": res.path,
                   "signed_in": res.page in ("account", "my_account")})


PROBERS = (ResendMixer, Replayer, SessionReuser, ProtectedVisitor)
