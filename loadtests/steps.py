"""Client steps: what a simulated user does to the portal and the inbox, one operation each.

A persona decides (which code to type, when to resend, whether to sign in again); the steps
here do it and write it down: every step is one `invoke` and one completion in the history,
with the values and reasons the checker and the scenario suite read. Where a request ended is
read once by `answers.read_answer`; each step says what that kind of answer means for it.
The password-recovery and probing steps are in `steps_extra.py`.
"""

from __future__ import annotations

import time
from typing import Any

import gevent

from .answers import CODE_PAGE, CONNECTION, COOKIES_BLOCKED, LOGIN_PAGE, LOOP, SIGNED_IN, Answer, read_answer
from .history import Recorder
from .inbox_client import InboxClient, Mail, WaitError
from .portal_client import PortalClient, PortalResult
from .redirects import LoopWatch
from .steps_extra import ExtraSteps

THROTTLE_RETRIES = 4      # a right code refused during the target's back-off is typed again, this often


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


def _failed(res: PortalResult) -> dict[str, Any]:
    """The completion value of a step the portal refused with a page the step did not expect."""
    return {"reason": res.reason or "error", "status": res.status, "page": res.page, "chain": res.chain,
            **({"problem": res.problem} if res.problem else {}), **res.unclassified()}


class Steps(ExtraSteps):
    """One simulated user's hands: its account, browser (`portal`), mail reader (`inbox`) and history.

    `h` is the run's harness (profile, options, time base, counters); `by_ref` whether this user
    reads the email quoting its own login's reference (else the newest code to its address).
    """

    def __init__(self, h: Any, account: Any, rec: Recorder, portal: PortalClient, inbox: InboxClient,
                 loops: LoopWatch, by_ref: bool) -> None:
        self.h, self.account, self.rec = h, account, rec
        self.portal, self.inbox, self.loops = portal, inbox, loops
        self.password = account.password
        self.by_ref = by_ref
        self.code_asked: float | None = None    # wall time of this account's last code not yet used

    @property
    def profile(self) -> Any:
        return self.h.profile

    @property
    def code_timeout(self) -> float:
        """--code-timeout: scenario seconds a user waits for a code."""
        return self.h.opts.code_timeout

    # ---- loops ---------------------------------------------------------------------------------
    def loop_ended(self, op: Any, a: Answer, res: PortalResult) -> str | None:
        """A redirect loop or blocked cookies end any step the same way: a failed operation and a
        loop line; None when the answer is neither."""
        if a.looped:
            op.fail({"reason": "loop", "chain": res.chain})
            self.loop_line(res.chain, "loop")
            return "loop"
        if a.kind == COOKIES_BLOCKED:
            op.fail({"reason": "cookies_blocked", "chain": res.chain})
            self.loop_line(res.chain, "cookies_blocked")
            return "cookies_blocked"
        return None

    def loop_line(self, chain: list[str], ended: str, kind: str = "chain") -> None:
        """`kind`: "chain" (a redirect chain revisits a URL or runs too long), "repeat" (a second
        return to sign-in in one login flow without reaching a signed-in page)."""
        self.rec.line("info", "loop", {"chain": chain, "ended": ended, "kind": kind})
        self.h.count("loops" if ended == "loop" else "loop_breaker")

    def second_bounce(self, fs: FlowState, chain: list[str]) -> bool:
        """After a return to sign-in (already counted in `fs.bounces`): True, with a `loop` line,
        when it is the second of this flow; the first is counted as a bounce."""
        if fs.bounces >= 2:
            self.loop_line(chain, "loop", kind="repeat")
            return True
        self.h.count("bounces")
        return False

    def bounced(self, fs: FlowState, chain: list[str]) -> bool:
        """Sent back to sign-in after a code (seen on a later page): True when that makes a loop."""
        fs.bounces += 1
        return self.second_bounce(fs, chain)

    # ---- signing in ----------------------------------------------------------------------------
    def login(self, fs: FlowState, program_path: str | None = None) -> str:
        """Sign in; returns "verify" (a code was sent), "in" (no code asked) or a flow outcome."""
        p = self.profile
        path = program_path or p.paths["login"]
        self.wait_out_quiet_window()
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
            return self._signed_in(fs, op, res)

    def quiet_left(self) -> float:
        """Scenario seconds until a new login mails a code again, under the profile's policy
        `new_login_mails_code_after_s` (django-otp's cooldown: a login sooner after the last code,
        while that code is unused, mails nothing); 0 when the policy has no such window."""
        quiet = self.profile.policy.get("new_login_mails_code_after_s")
        if not isinstance(quiet, int | float) or isinstance(quiet, bool) or self.code_asked is None:
            return 0.0
        return max(0.0, float(quiet) - self.h.timebase.scenario_seconds(time.time() - self.code_asked))

    def wait_out_quiet_window(self) -> None:
        """Sign in again only once the target mails a code again, as a user told to wait would
        (bounded by the window): waiting for a mail the target will not send would end as "no code"
        after --code-timeout and read like a code that never came."""
        left = self.quiet_left()
        if left > 0:
            self.pause(left + 1.0)

    def _signed_in(self, fs: FlowState, op: Any, res: PortalResult) -> str:
        """What the answer to the sign-in form means (see `login`)."""
        a = read_answer(res)
        if a.kind == CONNECTION:
            op.info({"reason": "connection", "error": res.error, "chain": res.chain})
            return "error"
        if ended := self.loop_ended(op, a, res):
            return ended
        if a.kind == CODE_PAGE:
            fs.ref = self.profile.ref_of(res.text)
            if fs.ref:
                fs.refs.append(fs.ref)
            fs.issued_wall = time.time()
            if self.quiet_left() <= 0:
                self.code_asked = fs.issued_wall         # a new code (none is mailed inside the window)
            fs.verify_page = res
            op.ok({"ref": fs.ref, "landed": res.path, "page": "verify", "chain": res.chain})
            return "verify"
        if a.kind == SIGNED_IN:
            op.ok({"ref": None, "landed": res.path, "page": res.page, "chain": res.chain})
            return "in"
        if a.throttled:
            op.fail({"reason": "rate_limited", "chain": res.chain})
            return "rate_limited"
        if a.reason == "generic_error":
            op.fail({"reason": "generic_error", "chain": res.chain})
            return "error"
        op.fail(_failed(res))
        return "error"

    # ---- reading a code ------------------------------------------------------------------------
    def mail_query(self, extra: str | None, ref: str | None = None) -> str:
        """An inbox query for mail to this account's notification address (`extra`: the profile's
        code or reset query; `ref`: the login's reference, only for a user who reads by reference)."""
        parts = [f"to:{self.account.notification_email}"]
        if extra:
            parts.append(extra)
        if self.by_ref and ref:
            parts.append(ref)
        return " ".join(parts)

    def read_code(self, fs: FlowState, timeout_st: float, folder: str = "inbox", ref: str | None = None,
                  query: str | None = None, purpose: str | None = None) -> Mail | None:
        """One long-poll for a code email; records `read_code` and the time spent waiting.

        `purpose` "extra": a look for a further mail of the same attempt (none is expected).
        """
        ref = fs.ref if ref is None else ref
        q = query or self.mail_query(self.profile.code_query, ref)
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

    # ---- typing it in --------------------------------------------------------------------------
    def verify(self, fs: FlowState, code: str, ref: str | None, page: PortalResult | None = None,
               loop_check: bool = True, rec: Recorder | None = None, source: str | None = None,
               evidence: dict[str, Any] | None = None) -> str:
        """Submit a code; returns "ok", "bounced" (back at sign-in once), or the failure reason.

        `source` marks a code that is not this login's own ("replay": a used code of an earlier
        login, "teammate": read from mail that predates this login, "other_login": the live code of
        this account's login in another browser); the checker reads it. `evidence`: how the client
        knows the code is not this login's own (recorded with the invoke).
        `loop_check` False: a return to sign-in is a plain refusal (the user does not sign in again).
        A code page refusing the code as `rate_limited` (a back-off after wrong codes, as
        django-otp's: even the right code is refused for 1, 2, 4, ... s) is waited out and the
        same code typed again, at most THROTTLE_RETRIES times, each try its own operation; the
        wait is the answer's retry hint, else 1, 2, 4, 8 scenario seconds.
        """
        marks = {**({"source": source} if source else {}), **(evidence or {})}
        result = self._verify_once(fs, code, ref, page, loop_check, rec, marks)
        for n in range(THROTTLE_RETRIES):
            last = fs.last_page
            if result != "rate_limited" or last is None or last.page != "verify":
                break
            self.pause(self.portal.retry_after_scenario(last, self.h.timebase.scale) or 2.0 ** n)
            result = self._verify_once(fs, code, ref, last, loop_check, rec, marks)
        return result

    def _verify_once(self, fs: FlowState, code: str, ref: str | None, page: PortalResult | None,
                     loop_check: bool, rec: Recorder | None, marks: dict[str, Any]) -> str:
        p = self.profile
        page = page or fs.verify_page
        args = {"code": code, "ref": ref, **marks}
        with (rec or self.rec).op("verify", args) as op:
            if page is None:
                page = self.portal.get(p.paths["verify"])
            res = self.portal.submit(page, p.paths["verify"], {p.fields["code"]: code}, step="verify")
            fs.last_page = res
            return self._code_taken(fs, op, res, loop_check)

    def _code_taken(self, fs: FlowState, op: Any, res: PortalResult, loop_check: bool) -> str:
        """What the answer to a submitted code means (see `verify`)."""
        a = read_answer(res)
        if a.kind == CONNECTION:
            op.info({"reason": "connection", "error": res.error, "chain": res.chain})
            return "error"
        if res.page == "account":
            fs.verified = True
            self.code_asked = None
            self.loops.verified(time.time())
            op.ok({"landed": res.path, "chain": res.chain})
            return "ok"
        if a.kind == LOGIN_PAGE and loop_check:
            fs.bounces += 1
            op.fail({"reason": "bounced" if fs.bounces < 2 else "loop", "message": res.reason, "page": "login",
                     "chain": res.chain})
            return "loop" if self.second_bounce(fs, res.chain) else "bounced"
        if ended := self.loop_ended(op, a, res):
            return ended
        if a.kind == CODE_PAGE:
            fs.verify_page = res
            op.fail({"reason": a.reason or "error", "chain": res.chain})
            return a.reason or "error"
        op.fail(_failed(res))
        return a.reason or "error"

    def verify_twice_at_once(self, fs: FlowState, code: str) -> list[str]:
        """A double click on "Verify": the same code posted twice at once; the answers that came.

        Both posts leave before either answer arrives, on two connections of the same browser,
        as a double click does: this is what exposes a check-then-consume race in the portal.
        Each click is its own history process (one operation at a time per process). A click still
        out when this user is stopped (or the wait runs out) is stopped with it, so it records `info`
        before the history closes instead of leaving an invoke with no completion.
        """
        page = fs.verify_page
        second = Recorder(self.rec.history, self.rec.proc + ".2", self.rec.persona, self.rec.user)
        second.flow = self.rec.flow
        clicks = [gevent.spawn(self.verify, fs, code, fs.ref, page=page, loop_check=False, rec=r)
                  for r in (self.rec, second)]
        try:
            gevent.joinall(clicks, timeout=max(30.0, 60.0 / self.h.timebase.scale))
        finally:
            gevent.killall([g for g in clicks if not g.dead], block=True, timeout=10)
        return [g.value for g in clicks if g.successful()]

    def resend(self, fs: FlowState) -> bool:
        """Ask for another code; True when the portal sent one (False, nothing asked, when it has none)."""
        p = self.profile
        if not p.has("resend"):
            return False
        with self.rec.op("resend", {"ref": fs.ref}) as op:
            page = fs.verify_page or self.portal.get(p.paths["verify"])
            res = self.portal.submit(page, p.paths["resend"], {}, step="resend")
            a = read_answer(res)
            if a.kind == CONNECTION:
                op.info({"reason": "connection", "error": res.error})
                return False
            if a.kind == CODE_PAGE:
                fs.verify_page = res
            if a.throttled:
                fs.retry_after = self.portal.retry_after_scenario(res, self.h.timebase.scale)
                op.fail({"reason": "rate_limited", "retry_after": fs.retry_after})
                return False
            if a.kind == CODE_PAGE and res.status < 400 and not a.reason:
                fs.resends += 1
                fs.issued_wall = time.time()
                op.ok({})
                return True
            op.fail({"reason": a.reason or "error", "status": res.status, "page": res.page, **res.unclassified()})
            return False

    # ---- signed in -----------------------------------------------------------------------------
    def access_account(self, fs: FlowState) -> str:
        """GET the account page: "ok" when it served partner data, "bounced" when the sign-in form
        came back soon after the code, "loop" for a redirect loop, else "error"."""
        p = self.profile
        with self.rec.op("access_account", {"path": p.paths["account"]}) as op:
            res = self.portal.get(p.paths["account"])
            fs.last_page = res
            a = read_answer(res)
            if a.kind == CONNECTION:
                op.info({"reason": "connection", "error": res.error})
                return "error"
            if res.page == "account":
                fs.account_page = res
                op.ok({"status": res.status, "mfa": fs.verified, "page": res.page})
                return "ok"
            op.fail({"landed": res.path, "page": res.page, "status": res.status, "chain": res.chain,
                     **res.unclassified()})
            if a.kind == LOOP:
                self.loop_line(res.chain, "loop")
            return "bounced" if a.kind == LOGIN_PAGE and a.looped else "loop" if a.looped else "error"

    def logout(self, fs: FlowState) -> None:
        """Sign out from the last page that has the sign-out form."""
        page = fs.account_page or fs.last_page
        if page is None:
            return
        with self.rec.op("logout", {}) as op:
            res = self.portal.submit(page, self.profile.paths["logout"], {}, step="logout")
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
