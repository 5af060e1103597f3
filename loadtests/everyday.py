"""The everyday personas: the ways people really sign in (careful, hasty, slow, typo-prone,
storming "send another code"…). Each class overrides only the decision it makes differently
from `Persona`; the steps it takes are `self.s` (`steps.Steps`). Pure: no Locust, no gevent.
"""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING

from . import decisions
from .persona_base import Persona, log

if TYPE_CHECKING:
    from .inbox_client import Mail
    from .steps import FlowState


class Careful(Persona):
    """Agency member on a shared inbox who opens the email quoting their own request reference."""

    name = "careful"
    programs = ("agency", "reseller")


class Hasty(Persona):
    """Agency member who grabs the newest code in the shared inbox, maybe a teammate's."""

    name = "hasty"
    programs = ("agency", "reseller")
    by_ref = False

    def code_and_verify(self, fs: FlowState) -> str:
        result = "error"
        for _ in range(3):                        # takes a wrong code, then the next one
            mail = self.get_code(fs)
            if mail is None:
                return "no_code"
            result = self.s.verify(fs, mail.code or "", fs.ref)
            if result != "wrong":
                break
        return self.settle(fs, result)


class Reseller(Persona):
    """A reseller with their own notification address."""

    name = "reseller"
    programs = ("reseller", "agency")


class Affiliate(Persona):
    """An affiliate: no MFA, ever. Seeing a code page is recorded (and flagged by the checker)."""

    name = "affiliate"
    programs = ("affiliate",)
    kind = "affiliate"
    needs = ("affiliate_login", "affiliate_dashboard")

    def flow(self, fs: FlowState) -> str:
        landed = self.s.login(fs, self.s.profile.paths["affiliate_login"])
        if landed == "verify":
            log.error("affiliate %s was shown a code page (%s)", self.account.username, fs.ref)
            return "error"
        if landed != "in":
            return landed
        self.s.logout(fs)
        return "ok"


class ResendAfter(Persona):
    """Waits N scenario seconds for a code, then asks for another (bounded)."""

    resend_after_st = 120.0
    max_resends = 3

    def get_code(self, fs: FlowState) -> Mail | None:
        waits = decisions.resend_schedule(self.resend_after_st, self.s.code_timeout, self.max_resends)
        for i, wait in enumerate(waits):
            mail = self.s.read_code(fs, wait)
            if mail is not None:
                return mail
            if i < len(waits) - 1:
                self.s.resend(fs)
        return None


class Patient(ResendAfter):
    """Waits two minutes for a code before asking for another (up to three times)."""

    name = "patient"
    resend_after_st = 120.0


class Impatient(ResendAfter):
    """Asks for another code after 35 seconds without one (up to three times)."""

    name = "impatient"
    resend_after_st = 35.0


class SpamChecker(Persona):
    """Looks in the spam folder when the code has not come after a while."""

    name = "spam-checker"
    spam_after_st = 60.0

    def get_code(self, fs: FlowState) -> Mail | None:
        first = min(self.spam_after_st, self.s.code_timeout)
        mail = self.s.read_code(fs, first, folder="inbox")
        if mail is not None:
            return mail
        return self.s.read_code(fs, max(1.0, self.s.code_timeout - first), folder="any")


class SlowTyper(Persona):
    """Types the code after a delay that may pass its five-minute expiry.

    Every other slow typer starts with the in-time flow, so a short run with two of them shows
    both a late code refused and a late-but-valid code accepted, whatever the seed.
    """

    name = "slow-typer"
    _started = itertools.count()

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__(rng)
        self.phase = next(SlowTyper._started) % 2

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        self.s.pause(decisions.slow_typer_delay(self.flows + self.phase, self.rng))
        return self.s.verify(fs, mail.code or "", fs.ref)


class TypoProne(Persona):
    """Mistypes the code first with probability p, then types it right."""

    name = "typo-prone"
    p_typo = 0.3

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        code = mail.code or ""
        if self.flows <= 1 or self.rng.random() < self.p_typo:
            first = self.s.verify(fs, decisions.typo(code, self.rng), fs.ref)
            if first != "wrong":
                return first
            self.s.pause(5.0)
        return self.s.verify(fs, code, fs.ref)


class SecondTab(Persona):
    """Starts a second login in a new tab while the first is pending, then types the first code."""

    name = "second-tab"

    def challenged(self, fs: FlowState) -> str:
        first_page, first_ref = fs.verify_page, fs.ref
        first = self.s.read_code(fs, self.s.code_timeout, ref=first_ref)
        stopped = self.sign_in(fs)                      # the second tab
        if stopped:
            return stopped
        if first is not None:
            self.s.verify(fs, first.code or "", first_ref, page=first_page)
        return self.code_and_verify(fs)


class CookieLess(Persona):
    """A browser refusing cookies: must reach the cookies-blocked page, never loop."""

    name = "cookie-less"

    def flow(self, fs: FlowState) -> str:
        keep = frozenset() if self.flows % 2 else frozenset({self.s.profile.fields["xsrf"]})
        self.s.portal.block_cookies(keep)
        try:
            landed = self.s.login(fs)
            if landed == "verify":
                return self.code_and_verify(fs)
            return "ok" if landed == "in" else landed
        finally:
            self.s.portal.allow_cookies()


class ResendStormer(Persona):
    """Hammers "send another code"; meets the rate limit (429)."""

    name = "resend-stormer"
    needs = ("resend",)
    storm = 6

    def challenged(self, fs: FlowState) -> str:
        refused = 0
        for _ in range(self.storm):
            if not self.s.resend(fs):
                refused += 1
            self.s.pause(1.0)
        if refused:
            return "rate_limited"
        return self.code_and_verify(fs)


class CodeGuesser(Persona):
    """Tries random codes until the portal stops it."""

    name = "code-guesser"
    max_guesses = 8

    def challenged(self, fs: FlowState) -> str:
        guesses = (decisions.random_code(self.rng) for _ in range(self.max_guesses))
        return self.settle(fs, self.first_that_is_not_wrong(fs, guesses))


class ForgotPassword(Persona):
    """Resets the password through the emailed link, then signs in with the new one."""

    name = "forgot-password"
    needs = ("forgot_password", "reset_password")

    def flow(self, fs: FlowState) -> str:
        if not self.s.forgot_password(fs):
            return "error"
        mail = self.s.read_code(fs, self.s.code_timeout, query=self.s.mail_query(self.s.profile.reset_query))
        if mail is None:
            return "no_code"
        if not self.s.reset_password(mail, f"Reset-{self.rng.randrange(10**9):09d}-pw"):
            return "error"
        fs.ref = None
        return self.partner_flow(fs)


class DirectUrl(Persona):
    """Types the account page's URL while the login is pending: must not be served data."""

    name = "direct-url"

    def challenged(self, fs: FlowState) -> str:
        self.s.access_account(fs)
        fs.last_page = fs.verify_page
        return self.code_and_verify(fs)


class DoubleSubmit(Persona):
    """Double-clicks "Verify": the same code posted twice at once; only one may succeed."""

    name = "double-submit"

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        results = self.s.verify_twice_at_once(fs, mail.code or "")
        return "ok" if "ok" in results else (results[0] if results else "error")
