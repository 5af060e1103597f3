"""Personas: the login flows of the simulated users, and one small Locust user class each.

A persona is a way people really sign in (careful, hasty, slow, typo-prone, storming
"send another code"…). The shared steps (login, read a code, verify, resend, account page,
logout) are methods of `MfaUser`; each persona class overrides only the step it does
differently. Every step writes its `invoke` and completion to the history; each login
transaction ends with one `flow` line and feeds the flow metrics. Timings are scenario
seconds converted with the run's time scale; every loop is bounded.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from typing import Any

import gevent
from gevent import GreenletExit
from locust import task
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.exception import StopUser

from . import decisions, runtime
from .accounts import AccountsError
from .history import Recorder
from .inbox_client import MAX_WAIT, InboxClient, Mail, WaitError
from .persona_names import PERSONA_NAMES
from .portal_client import PortalClient, PortalResult
from .redirects import LoopWatch

log = logging.getLogger("loadtests.personas")
PARTNER = ("reseller", "agency")


class FlowState:
    """What one login transaction has seen so far."""

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.start = time.time()
        self.resends = 0
        self.code_wait = 0.0
        self.waited = False
        self.delivery: float | None = None
        self.ref: str | None = None
        self.refs: list[str] = []
        self.issued_wall: float | None = None      # when the portal answered the request that sent a code
        self.verify_page: PortalResult | None = None
        self.verified = False
        self.last_page: PortalResult | None = None
        self.account_page: PortalResult | None = None
        self.after_seq: int | None = None            # inbox Seq before the mail we wait for was sent
        self.bounces = 0                             # returns to sign-in after a verify (2 = a loop)
        self.retry_after: float | None = None        # the last refused resend's retry hint (scenario s)


class MfaUser(FastHttpUser):
    """Base of every persona: account, clients, and the shared steps of a login flow."""

    abstract = True
    persona = "base"
    programs: tuple[str, ...] = PARTNER
    by_ref = True                  # read the email quoting this login's reference
    pause_st = (5.0, 30.0)         # scenario seconds between flows (closed model)
    network_timeout = 60.0
    connection_timeout = 30.0
    max_retries = 0

    def wait_time(self) -> float:
        h = runtime.harness(self.environment)
        if h.arrivals is not None:
            return 0.0
        return h.timebase.wall_seconds(self.rng.uniform(*self.pause_st))

    def on_start(self) -> None:
        h = runtime.harness(self.environment)
        self.h = h
        self.rng = random.Random()
        try:
            account = h.take_account(self.programs)
        except AccountsError as exc:
            h.note_accounts_error(exc)
            account = None
        if account is None:
            h.note_no_account(self.persona, self.programs)
            self.idle = True            # stopped quietly at its first task (StopUser in on_start logs a traceback)
            return
        self.idle = False
        self.account = account
        self.rng = decisions.user_rng(getattr(h.opts, "seed", None), self.persona, account.username)
        self.password = self.account.password
        self.rec = h.recorder(self.persona, self.account.username)
        self.loops = LoopWatch(window_s=h.timebase.wall_seconds(h.opts.loop_window))
        self.portal = PortalClient(self.client, h.profile, self.loops,
                                   fresh_connections=bool(getattr(h.opts, "fresh_connections", False)))
        session = FastHttpSession(h.inbox_url, request_event=h.inbox_event, user=None,
                                  network_timeout=MAX_WAIT + 30.0, connection_timeout=30.0, max_retries=0)
        session.client.cookiejar = None         # the inbox API sets no cookies: skip the jar per request
        self.inbox = InboxClient(session, h.profile)
        self.flows = 0

    # ---- the task ------------------------------------------------------------------------------
    @task
    def one_flow(self) -> None:
        h = self.h
        if self.idle:
            raise StopUser()
        if h.arrivals is not None and not h.arrivals.wait_turn():
            return
        self.flows += 1
        fs = FlowState(self.rec.new_flow())
        self.loops.reset()
        self.portal.allow_cookies()
        self.portal.clear_cookies()
        try:
            outcome = self.flow(fs)
        except (GreenletExit, StopUser):
            self.finish(fs, "stopped", completed=False)
            raise
        except WaitError as exc:
            log.warning("%s: inbox error: %s", self.persona, exc)
            outcome = "error"
        except Exception:
            # a bug or an unexpected page: the operation already recorded `info`; the flow ends as error
            log.exception("%s flow %s failed", self.persona, fs.flow)
            outcome = "error"
        self.finish(fs, outcome)

    def flow(self, fs: FlowState) -> str:
        """The persona's login transaction; returns the flow outcome."""
        return self.partner_flow(fs)

    def finish(self, fs: FlowState, outcome: str, completed: bool = True) -> None:
        duration = time.time() - fs.start
        value = {"outcome": outcome, "duration_s": round(duration, 6),
                 "duration_st": round(self.h.timebase.scenario_seconds(duration), 6), "resends": fs.resends,
                 "code_wait_s": round(fs.code_wait, 6) if fs.waited else None,
                 "delivery_delay_s": None if fs.delivery is None else round(fs.delivery, 6)}
        if not completed:
            self.rec.line("info", "flow", value)
            return
        self.rec.line("ok" if outcome == "ok" else "fail", "flow", value)
        self.h.record_flow(outcome, duration, fs.resends, fs.code_wait if fs.waited else None, fs.delivery)

    # ---- the standard partner flow ---------------------------------------------------------
    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        return self.code_and_verify(fs)

    def not_challenged(self, landed: str) -> str:
        """The flow outcome when a partner login did not lead to a code page."""
        if landed == "in":
            log.warning("%s %s got in without a code (MFA skipped)", self.persona, self.account.username)
            return "error"
        return landed

    def code_and_verify(self, fs: FlowState) -> str:
        mail = self.get_code(fs)
        if mail is None:
            return "no_code"
        result = self.enter_code(fs, mail)
        if result == "ok":
            return self.after_verify(fs)
        if result == "bounced":
            return self.sign_in_again(fs)
        return decisions.outcome_of_verify(result)

    def after_verify(self, fs: FlowState) -> str:
        """A careful browser reloads its account page once, then signs out."""
        if not self.access_account(fs):
            last = fs.last_page
            if last is not None and last.looped and last.page == "login":
                return self.bounced(fs, last.chain)
            return "loop" if last is not None and last.looped else "error"
        self.logout(fs)
        return "ok"

    def bounced(self, fs: FlowState, chain: list[str]) -> str:
        """Sent back to sign-in after a code: once is not a loop (sign in again); twice is."""
        fs.bounces += 1
        if fs.bounces >= 2:
            self.loop_line(chain, "loop", kind="repeat")
            return "loop"
        self.h.count("bounces")
        return self.sign_in_again(fs)

    def sign_in_again(self, fs: FlowState) -> str:
        """After one bounce to sign-in: a fresh login and code, as a user would (bounded by `bounced`)."""
        self.loops.reset()
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        return self.code_and_verify(fs)

    # ---- steps -----------------------------------------------------------------------------
    def loop_line(self, chain: list[str], ended: str, kind: str = "chain") -> None:
        """`kind`: "chain" (a redirect chain revisits a URL or runs too long), "repeat" (a second
        return to sign-in in one login flow without reaching a signed-in page)."""
        self.rec.line("info", "loop", {"chain": chain, "ended": ended, "kind": kind})
        self.h.count("loops" if ended == "loop" else "loop_breaker")

    def login(self, fs: FlowState, program_path: str | None = None) -> str:
        """Sign in; returns "verify" (a code was sent), "in" (no code asked) or a flow outcome."""
        p = self.h.profile
        path = program_path or p.paths["login"]
        # A shared sign-in form (one path for both): the step is an affiliate's because the account is.
        shared = p.paths["affiliate_login"] == p.paths["login"]
        op_name = ("affiliate_login" if path == p.paths["affiliate_login"]
                   and (not shared or self.account.program == "affiliate") else "login")
        if op_name == "login" and not (self.by_ref and p.ref_regex is not None):
            # a query without this login's reference could match older mail: learn the newest Seq
            # first. With the reference in the query any match is this login's own, so the Seq
            # this client saw last is a safe lower bound and the request is saved.
            fs.after_seq = self.inbox.current_seq()
        else:
            # even with the reference in the query, never mail delivered before this run started
            fs.after_seq = self.inbox.floor()
        with self.rec.op(op_name, {"path": path}) as op:
            form = self.portal.get(path)
            if form.error:
                op.info({"reason": "connection", "error": form.error})
                return "error"
            res = self.portal.submit(form, path, {p.fields["username"]: self.account.username,
                                                  p.fields["password"]: self.password}, step=op_name)
            fs.last_page = res
            if res.error:
                op.info({"reason": "connection", "error": res.error, "chain": res.chain})
                return "error"
            if res.looped:
                op.fail({"reason": "loop", "chain": res.chain})
                self.loop_line(res.chain, "loop")
                return "loop"
            if res.page == "cookies_blocked":
                op.fail({"reason": "cookies_blocked", "chain": res.chain})
                self.loop_line(res.chain, "cookies_blocked")
                return "cookies_blocked"
            if res.page == "verify":
                fs.ref = p.ref_of(res.text)
                if fs.ref:
                    fs.refs.append(fs.ref)
                fs.issued_wall = time.time()
                fs.verify_page = res
                op.ok({"ref": fs.ref, "landed": res.path, "page": "verify", "chain": res.chain})
                return "verify"
            if res.page in ("account", "affiliate_dashboard", "my_account"):
                op.ok({"ref": None, "landed": res.path, "page": res.page, "chain": res.chain})
                return "in"
            if res.status == 429 or res.reason == "rate_limited":
                op.fail({"reason": "rate_limited", "chain": res.chain})
                return "rate_limited"
            if res.reason == "generic_error":
                op.fail({"reason": "generic_error", "chain": res.chain})
                return "error"
            op.fail({"reason": res.reason or "error", "status": res.status, "page": res.page, "chain": res.chain,
                     **({"problem": res.problem} if res.problem else {})})
            return "error"

    def query(self, fs: FlowState, ref: str | None) -> str:
        parts = [f"to:{self.account.notification_email}"]
        if self.h.profile.code_query:
            parts.append(self.h.profile.code_query)
        if self.by_ref and ref:
            parts.append(ref)
        return " ".join(parts)

    def read_code(self, fs: FlowState, timeout_st: float, folder: str = "inbox", ref: str | None = None,
                  query: str | None = None, purpose: str | None = None) -> Mail | None:
        """One long-poll for a code email; records `read_code` and the time spent waiting.

        `purpose` "extra": a look for a further mail of the same attempt (none is expected).
        """
        ref = fs.ref if ref is None else ref
        q = query or self.query(fs, ref)
        after = self.inbox.last_seq if fs.after_seq is None else fs.after_seq
        started = time.time()
        args = {"query": q, "after_seq": after, "folder": folder, **({"purpose": purpose} if purpose else {})}
        with self.rec.op("read_code", args) as op:
            try:
                mail = self.inbox.wait(q, after, self.h.timebase.wall_seconds(timeout_st), folder)
            except WaitError as exc:
                op.info({"reason": "inbox_error", "error": str(exc)[:300]})
                return None
            finally:
                fs.code_wait += time.time() - started
                fs.waited = True
            if mail is None:
                op.fail({"reason": "timeout"})
                return None
            fs.after_seq = mail.seq
            op.ok({"code": mail.code, "seq": mail.seq, "message_id": mail.message_id, "folder": mail.folder,
                   "ref": mail.ref, "delay_s": None if mail.delay_s is None else round(mail.delay_s, 6)})
        if mail.ref and mail.ref in fs.refs and fs.issued_wall and mail.delivered:
            fs.delivery = max(0.0, mail.delivered - fs.issued_wall)
            self.h.side_flow("code delivery", fs.delivery)
        return mail

    def get_code(self, fs: FlowState) -> Mail | None:
        """Wait for this login's code, up to --code-timeout scenario seconds."""
        return self.read_code(fs, self.h.opts.code_timeout)

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        return self.verify(fs, mail.code or "", fs.ref)

    def verify(self, fs: FlowState, code: str, ref: str | None, page: PortalResult | None = None,
               loop_check: bool = True, rec: Recorder | None = None, source: str | None = None) -> str:
        """Submit a code; returns "ok" or the failure reason.

        `source` marks a code that is not this login's own ("replay": a used code of an earlier
        login, "teammate": read from mail that predates this login); the checker reads it.
        """
        p = self.h.profile
        page = page or fs.verify_page
        args = {"code": code, "ref": ref, **({"source": source} if source else {})}
        with (rec or self.rec).op("verify", args) as op:
            if page is None:
                page = self.portal.get(p.paths["verify"])
            res = self.portal.submit(page, p.paths["verify"], {p.fields["code"]: code}, step="verify")
            fs.last_page = res
            if res.error:
                op.info({"reason": "connection", "error": res.error, "chain": res.chain})
                return "error"
            if res.page == "account":
                fs.verified = True
                self.loops.verified(time.time())
                op.ok({"landed": res.path, "chain": res.chain})
                return "ok"
            if res.page == "login" and loop_check:
                fs.bounces += 1
                op.fail({"reason": "bounced" if fs.bounces < 2 else "loop", "message": res.reason, "page": "login",
                         "chain": res.chain})
                if fs.bounces >= 2:
                    self.loop_line(res.chain, "loop", kind="repeat")
                    return "loop"
                self.h.count("bounces")
                return "bounced"
            if res.looped:
                op.fail({"reason": "loop", "chain": res.chain})
                self.loop_line(res.chain, "loop")
                return "loop"
            if res.page == "cookies_blocked":
                op.fail({"reason": "cookies_blocked", "chain": res.chain})
                self.loop_line(res.chain, "cookies_blocked")
                return "cookies_blocked"
            if res.page == "verify":
                fs.verify_page = res
                reason = res.reason or "error"
                op.fail({"reason": reason, "chain": res.chain})
                return reason
            op.fail({"reason": res.reason or "error", "status": res.status, "page": res.page, "chain": res.chain,
                     **({"problem": res.problem} if res.problem else {})})
            return res.reason or "error"

    def resend(self, fs: FlowState) -> bool:
        """Ask for another code; True when the portal sent one (False, nothing asked, when it has none)."""
        p = self.h.profile
        if not p.has("resend"):
            return False
        with self.rec.op("resend", {"ref": fs.ref}) as op:
            page = fs.verify_page or self.portal.get(p.paths["verify"])
            res = self.portal.submit(page, p.paths["resend"], {}, step="resend")
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return False
            if res.page == "verify":
                fs.verify_page = res
            if res.status == 429 or res.reason == "rate_limited":
                fs.retry_after = self.portal.retry_after_scenario(res, self.h.timebase.scale)
                op.fail({"reason": "rate_limited", "retry_after": fs.retry_after})
                return False
            if res.page == "verify" and res.status < 400 and not res.reason:
                fs.resends += 1
                fs.issued_wall = time.time()
                op.ok({})
                return True
            op.fail({"reason": res.reason or "error", "status": res.status, "page": res.page})
            return False

    def access_account(self, fs: FlowState) -> bool:
        """GET the account page; True when it served partner data."""
        p = self.h.profile
        with self.rec.op("access_account", {"path": p.paths["account"]}) as op:
            res = self.portal.get(p.paths["account"])
            fs.last_page = res
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return False
            if res.page == "account":
                fs.account_page = res
                op.ok({"status": res.status, "mfa": fs.verified, "page": res.page})
                return True
            op.fail({"landed": res.path, "page": res.page, "status": res.status, "chain": res.chain})
            if res.looped and res.page != "login":
                self.loop_line(res.chain, "loop")
            return False

    def logout(self, fs: FlowState) -> None:
        page = fs.account_page or fs.last_page
        if page is None:
            return
        with self.rec.op("logout", {}) as op:
            res = self.portal.submit(page, self.h.profile.paths["logout"], {}, step="logout")
            if res.error:
                op.info({"reason": "connection", "error": res.error})
            elif res.status < 400:
                op.ok({"landed": res.path})
            else:
                op.fail({"status": res.status, "landed": res.path})
        self.loops.reset()

    def pause(self, scenario_seconds: float) -> None:
        """Simulated user pacing (typing, reading), in scenario seconds."""
        gevent.sleep(self.h.timebase.wall_seconds(max(0.0, scenario_seconds)))


# ---- the personas ------------------------------------------------------------------------------
class Careful(MfaUser):
    """Agency member on a shared inbox who opens the email quoting their own request reference."""

    persona = "careful"
    programs = ("agency", "reseller")


class Hasty(MfaUser):
    """Agency member who grabs the newest code in the shared inbox, maybe a teammate's."""

    persona = "hasty"
    programs = ("agency", "reseller")
    by_ref = False

    def code_and_verify(self, fs: FlowState) -> str:
        result = "error"
        for _ in range(3):                        # takes a wrong code, then the next one
            mail = self.get_code(fs)
            if mail is None:
                return "no_code"
            result = self.verify(fs, mail.code or "", fs.ref)
            if result != "wrong":
                break
        if result == "bounced":
            return self.sign_in_again(fs)
        return self.after_verify(fs) if result == "ok" else decisions.outcome_of_verify(result)


class Reseller(MfaUser):
    """A reseller with their own notification address."""

    persona = "reseller"
    programs = ("reseller", "agency")


class Affiliate(MfaUser):
    """An affiliate: no MFA, ever. Seeing a code page is recorded (and flagged by the checker)."""

    persona = "affiliate"
    programs = ("affiliate",)

    def flow(self, fs: FlowState) -> str:
        p = self.h.profile
        landed = self.login(fs, p.paths["affiliate_login"])
        if landed == "verify":
            log.error("affiliate %s was shown a code page (%s)", self.account.username, fs.ref)
            return "error"
        if landed != "in":
            return landed
        self.logout(fs)
        return "ok"


class ResendAfter(MfaUser):
    """Waits N scenario seconds for a code, then asks for another (bounded)."""

    abstract = True
    resend_after_st = 120.0
    max_resends = 3

    def get_code(self, fs: FlowState) -> Mail | None:
        waits = decisions.resend_schedule(self.resend_after_st, self.h.opts.code_timeout, self.max_resends)
        for i, wait in enumerate(waits):
            mail = self.read_code(fs, wait)
            if mail is not None:
                return mail
            if i < len(waits) - 1:
                self.resend(fs)
        return None


class Patient(ResendAfter):
    persona = "patient"
    resend_after_st = 120.0


class Impatient(ResendAfter):
    persona = "impatient"
    resend_after_st = 35.0


class SpamChecker(MfaUser):
    """Looks in the spam folder when the code has not come after a while."""

    persona = "spam-checker"
    spam_after_st = 60.0

    def get_code(self, fs: FlowState) -> Mail | None:
        first = min(self.spam_after_st, self.h.opts.code_timeout)
        mail = self.read_code(fs, first, folder="inbox")
        if mail is not None:
            return mail
        return self.read_code(fs, max(1.0, self.h.opts.code_timeout - first), folder="any")


class SlowTyper(MfaUser):
    """Types the code after a delay that may pass its five-minute expiry.

    Every other slow typer starts with the in-time flow, so a short run with two of them shows
    both a late code refused and a late-but-valid code accepted, whatever the seed.
    """

    persona = "slow-typer"
    _started = itertools.count()

    def on_start(self) -> None:
        super().on_start()
        self.phase = next(SlowTyper._started) % 2

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        self.pause(decisions.slow_typer_delay(self.flows + self.phase, self.rng))
        return self.verify(fs, mail.code or "", fs.ref)


class TypoProne(MfaUser):
    """Mistypes the code first with probability p, then types it right."""

    persona = "typo-prone"
    p_typo = 0.3

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        code = mail.code or ""
        if self.flows <= 1 or self.rng.random() < self.p_typo:
            first = self.verify(fs, decisions.typo(code, self.rng), fs.ref)
            if first != "wrong":
                return first
            self.pause(5.0)
        return self.verify(fs, code, fs.ref)


class SecondTab(MfaUser):
    """Starts a second login in a new tab while the first is pending, then types the first code."""

    persona = "second-tab"

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        first_page, first_ref = fs.verify_page, fs.ref
        first = self.read_code(fs, self.h.opts.code_timeout, ref=first_ref)
        landed = self.login(fs)                        # the second tab
        if landed != "verify":
            return self.not_challenged(landed)
        if first is not None:
            self.verify(fs, first.code or "", first_ref, page=first_page)
        return self.code_and_verify(fs)


class CookieLess(MfaUser):
    """A browser refusing cookies: must reach the cookies-blocked page, never loop."""

    persona = "cookie-less"

    def flow(self, fs: FlowState) -> str:
        keep = frozenset() if self.flows % 2 else frozenset({self.h.profile.fields["xsrf"]})
        self.portal.block_cookies(keep)
        try:
            landed = self.login(fs)
            if landed == "verify":
                return self.code_and_verify(fs)
            return "ok" if landed == "in" else landed
        finally:
            self.portal.allow_cookies()


class ResendStormer(MfaUser):
    """Hammers "send another code"; meets the rate limit (429)."""

    persona = "resend-stormer"
    storm = 6

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        refused = 0
        for _ in range(self.storm):
            if not self.resend(fs):
                refused += 1
            self.pause(1.0)
        if refused:
            return "rate_limited"
        return self.code_and_verify(fs)


class CodeGuesser(MfaUser):
    """Tries random codes until the portal stops it."""

    persona = "code-guesser"
    max_guesses = 8

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        result = "error"
        for _ in range(self.max_guesses):
            result = self.verify(fs, decisions.random_code(self.rng), fs.ref)
            if result != "wrong":
                break
        if result == "ok":
            return self.after_verify(fs)
        if result == "bounced":
            return self.sign_in_again(fs)
        return decisions.outcome_of_verify(result)


class ForgotPassword(MfaUser):
    """Resets the password through the emailed link, then signs in with the new one."""

    persona = "forgot-password"

    def flow(self, fs: FlowState) -> str:
        p = self.h.profile
        after = self.inbox.current_seq()
        with self.rec.op("forgot_password", {}) as op:
            form = self.portal.get(p.paths["forgot_password"])
            res = self.portal.submit(form, p.paths["forgot_password"],
                                     {p.fields["forgot_username"]: self.account.username}, step="forgot_password")
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return "error"
            if res.status >= 400:
                op.fail({"reason": res.reason or "error", "status": res.status})
                return "error"
            op.ok({"landed": res.path})
        q = " ".join(x for x in (f"to:{self.account.notification_email}", p.reset_query) if x)
        fs.after_seq = after
        mail = self.read_code(fs, self.h.opts.code_timeout, query=q)
        if mail is None:
            return "no_code"
        link = p.reset_link_regex.search(self.inbox.text(mail.api_id)) if p.reset_link_regex else None
        new_password = f"Reset-{self.rng.randrange(10**9):09d}-pw"
        with self.rec.op("reset_password", {"link_found": link is not None}) as op:
            if link is None:
                op.fail({"reason": "no_link"})
                return "error"
            page = self.portal.get(link.group(1) if link.groups() else link.group(0))
            res = self.portal.submit(page, p.paths["reset_password"], {p.fields["new_password"]: new_password},
                                     step="reset_password", confirm=new_password)
            if res.error:
                op.info({"reason": "connection", "error": res.error})
                return "error"
            if res.page != "login":
                op.fail({"reason": res.reason or "error", "status": res.status, "landed": res.path, "page": res.page})
                return "error"
            op.ok({"landed": res.path, "page": res.page})
        self.password = new_password
        fs.ref = None
        return self.partner_flow(fs)


class DirectUrl(MfaUser):
    """Types the account page's URL while the login is pending: must not be served data."""

    persona = "direct-url"

    def partner_flow(self, fs: FlowState) -> str:
        landed = self.login(fs)
        if landed != "verify":
            return self.not_challenged(landed)
        self.access_account(fs)
        fs.last_page = fs.verify_page
        return self.code_and_verify(fs)


class DoubleSubmit(MfaUser):
    """Double-clicks "Verify": the same code posted twice at once; only one may succeed."""

    persona = "double-submit"

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        page = fs.verify_page
        code = mail.code or ""
        # Both posts leave before either answer arrives, on two connections of the same browser,
        # as a double click does: this is what exposes a check-then-consume race in the portal.
        # Each click is its own history process (one operation at a time per process).
        second = Recorder(self.rec.history, self.rec.proc + ".2", self.rec.persona, self.rec.user)
        second.flow = self.rec.flow
        clicks = [gevent.spawn(self.verify, fs, code, fs.ref, page=page, loop_check=False, rec=r)
                  for r in (self.rec, second)]
        gevent.joinall(clicks, timeout=max(30.0, 60.0 / self.h.timebase.scale))
        results = [g.value for g in clicks if g.successful()]
        return "ok" if "ok" in results else (results[0] if results else "error")


# The probing personas build on MfaUser, so they are imported once it exists.
from .probers import PROBERS  # noqa: E402

PERSONAS: dict[str, type[MfaUser]] = {cls.persona: cls for cls in (
    Careful, Hasty, Reseller, Affiliate, Patient, Impatient, SpamChecker, SlowTyper, TypoProne, SecondTab,
    CookieLess, ResendStormer, CodeGuesser, ForgotPassword, DirectUrl, DoubleSubmit, *PROBERS)}
if tuple(PERSONAS) != PERSONA_NAMES:      # scenario files are checked against PERSONA_NAMES
    raise ImportError(f"persona_names.PERSONA_NAMES {PERSONA_NAMES} != personas {tuple(PERSONAS)}")


def user_classes() -> list[type[MfaUser]]:
    return list(PERSONAS.values())


def describe() -> dict[str, Any]:
    return {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in PERSONAS.items()}
