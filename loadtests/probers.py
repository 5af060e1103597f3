"""Probing personas: behaviours that give a black-box checker something to decide.

Against a foreign portal there is no event log; these users provoke what the checker can then
judge from their own history and the inbox's deliveries:
- `resend-mixer`: a wrong guess, a resend, then the older code (void under an "invalidate"
  policy), then the newer one; it reads every code mail of its login and notes extra ones;
- `replayer`: signs in twice; replays the first login's used code in the second, then tries the
  newest code mail that predates the second login (a teammate's on a shared address);
- `session-reuser`: after logout reuses the old session cookie, and presses "back" to submit
  the used code again with the old pending cookie;
- `protected-visitor`: with a pending (unverified) login visits every protected path;
- `two-browsers`: one account signs in from two browsers (two cookie jars); the second types the
  first one's live, unused code, then its own.
Every loop is bounded; every step is an operation in the history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import decisions
from .persona_base import Persona

if TYPE_CHECKING:
    from .inbox_client import Mail
    from .steps import FlowState

EXTRA_WAIT_ST = 20.0      # scenario seconds a reader waits for a further mail of the same attempt


class Prober(Persona):
    """Base of the probing personas (kind "prober")."""

    kind = "prober"


class ResendMixer(Prober):
    """Mixes a wrong guess with a resend, then types the older code before the newer one."""

    name = "resend-mixer"
    programs = ("reseller", "agency")
    needs = ("resend",)

    def challenged(self, fs: FlowState) -> str:
        first = self.get_code(fs)
        if first is None:
            return "no_code"
        self.read_extra(fs)
        result = self.s.verify(fs, decisions.typo(first.code or "", self.rng), fs.ref)
        if result != "wrong":
            return self.settle(fs, result)
        second = self.s.read_code(fs, self.s.code_timeout) if self.resend_when_allowed(fs) else None
        codes = [first.code or ""] + ([second.code] if second is not None and second.code else [])
        return self.settle(fs, self.first_that_is_not_wrong(fs, codes))   # the older code first: void under "invalidate"

    def resend_when_allowed(self, fs: FlowState) -> bool:
        """Resend; after a refusal with a retry hint, wait it out and try once more."""
        if self.s.resend(fs):
            return True
        self.s.pause(min(fs.retry_after or 35.0, 120.0) + 1.0)
        return self.s.resend(fs)

    def read_extra(self, fs: FlowState) -> Mail | None:
        """Any further code mail of the same attempt (a correct portal sends none without a resend)."""
        return self.s.read_code(fs, EXTRA_WAIT_ST, purpose="extra")


class Replayer(Prober):
    """Signs in, then again: replays the used code, then a teammate's, then its own."""

    name = "replayer"
    programs = ("agency", "reseller")

    def challenged(self, fs: FlowState) -> str:
        used = self.get_code(fs)
        if used is None:
            return "no_code"
        result = self.enter_code(fs, used)
        if result != "ok":
            return self.settle(fs, result)
        first = self.after_verify(fs)
        if first != "ok":
            return first
        before = self.s.inbox.current_seq()
        fs.ref, fs.verified = None, False
        return self.sign_in(fs) or self.replay(fs, used, before)

    def replay(self, fs: FlowState, used: Mail, before_seq: int) -> str:
        """In the second login: the used code, then a teammate's (mail before this login), then its own."""
        own = self.get_code(fs)
        if own is None:
            return "no_code"
        result = self.s.verify(fs, used.code or "", fs.ref, source="replay")
        if result == "wrong":
            mate = self.s.teammate_code(before_seq)
            if mate is not None and mate.code and mate.code not in (own.code, used.code):
                result = self.s.verify(fs, mate.code, fs.ref, source="teammate")
        if result == "wrong":
            result = self.s.verify(fs, own.code or "", fs.ref)
        return self.settle(fs, result)


class SessionReuser(Prober):
    """After logout reuses the old session cookie, then presses "back" and submits the code again."""

    name = "session-reuser"
    programs = ("reseller", "agency")

    def challenged(self, fs: FlowState) -> str:
        mail = self.get_code(fs)
        if mail is None:
            return "no_code"
        browser = self.s.portal
        pending, form = browser.snapshot(), fs.verify_page
        result = self.enter_code(fs, mail)
        if result != "ok":
            return decisions.outcome_of_verify(result)      # no second sign-in: the probe is over
        if self.s.access_account(fs) != "ok":
            return "error"
        signed_in = browser.snapshot()
        self.s.logout(fs)
        browser.restore(signed_in)             # the old session cookie, after logout
        self.s.reuse_session()
        browser.restore(pending)               # "back" to the code page, same code again
        self.s.verify(fs, mail.code or "", fs.ref, page=form, loop_check=False)
        browser.clear_cookies()
        return "ok"


class ProtectedVisitor(Prober):
    """With a pending login, visits every protected path; none may show partner data."""

    name = "protected-visitor"

    def protected_paths(self) -> list[str]:
        p = self.s.profile
        listed = p.extra.get("protected_paths") or []
        paths = [p.paths["account"], *([p.paths["my_account"]] if "my_account" in p.paths else []), *listed]
        return list(dict.fromkeys(str(x) for x in paths))

    def challenged(self, fs: FlowState) -> str:
        for path in self.protected_paths():
            self.s.visit(path)
        fs.last_page = fs.verify_page
        return self.code_and_verify(fs)


class TwoBrowsers(Prober):
    """Signs in from two browsers; the second types the first one's live code, then its own."""

    name = "two-browsers"
    programs = ("agency", "reseller")

    def challenged(self, fs: FlowState) -> str:
        first = self.get_code(fs)            # browser 1's code, read before browser 2 signs in
        if first is None:
            return "no_code"
        if self.s.profile.codes_repeat:      # codes may open several logins: nothing to decide here
            return self.settle(fs, self.enter_code(fs, first))
        browser = self.s.portal
        tab = (browser.snapshot(), fs.verify_page, fs.ref)
        before_seq = self.s.inbox.current_seq()
        browser.clear_cookies()              # browser 2: its own cookie jar
        fs.verify_page = None
        outcome = self.sign_in(fs) or self.second_browser(fs, first, tab[2], before_seq)
        self.first_browser_finishes(fs, first, tab)
        return outcome

    def first_browser_finishes(self, fs: FlowState, first: Mail, tab: tuple[Any, Any, str | None]) -> None:
        """Browser 1 types its own code too (refused if browser 2's login used it), so a correct
        portal keeps no unused code and no pending login from this flow."""
        cookies, page, ref = tab
        self.s.portal.restore(cookies)
        if self.s.verify(fs, first.code or "", ref, page=page, loop_check=False) == "ok" \
                and self.s.access_account(fs) == "ok":
            self.s.logout(fs)
        self.s.portal.clear_cookies()

    def second_browser(self, fs: FlowState, first: Mail, first_ref: str | None, before_seq: int) -> str:
        """Browser 2's login: its own code read first (to tell a repeat from a foreign code), then
        browser 1's code, then its own when that was refused."""
        own = self.get_code(fs)
        if own is None:
            return "no_code"
        result = "wrong"
        if first.code and first.code != own.code:
            result = self.s.verify(fs, first.code, fs.ref, source="other_login",
                                   evidence=self.evidence(fs, first, first_ref, before_seq))
        if result == "wrong":
            result = self.s.verify(fs, own.code or "", fs.ref)
        return self.settle(fs, result)

    @staticmethod
    def evidence(fs: FlowState, first: Mail, first_ref: str | None, before_seq: int) -> dict[str, Any]:
        """How the client knows the code is another login's: its mail names that login's reference,
        or (no references) the mail was read before this login began, under per-login codes."""
        by_ref = bool(first.ref and fs.ref and first.ref != fs.ref)
        return {"known_by": "ref" if by_ref else "predates", "code_ref": first.ref or first_ref,
                "code_seq": first.seq, "login_after_seq": before_seq}
