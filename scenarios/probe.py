"""`mfa-harness probe`: walk one of each flow of a target portal and say how each page was read.

Before a load run against a portal nobody here wrote, the profile must be right: a page the
profile cannot recognise, a form it cannot find or a mail its regex cannot read would turn the
whole run into "unclassified" noise or, worse, into false alarms. The probe drives one partner
through login, code mail, wrong code, right code, account, resend, logout, one affiliate and the
forgot/reset flow (each only when the profile says the portal has it), with the same client code
the personas use (PortalClient, InboxClient), and prints for every page which profile key matched
and how. Every mismatch is one line; any mismatch makes the probe (and a target run) fail.
The reset sets the account's password to the one it already has, so the accounts file stays true.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mfa_harness.loadtests.inbox_client import InboxClient, Mail, WaitError
from mfa_harness.loadtests.page_excerpt import excerpt_line
from mfa_harness.loadtests.persona_registry import NEEDS
from mfa_harness.loadtests.portal_client import PortalClient, PortalResult
from mfa_harness.loadtests.profile import TargetProfile
from mfa_harness.loadtests.redirects import LoopWatch

from .judged_policy import UNLIMITED, checker_policy, policy_origins  # noqa: F401 (re-exported, as before)

MAIL_WAIT_S = 60.0
BACKOFF_TRIES = 4           # a refused right code after a wrong one: the target's back-off, waited out


@dataclass
class ProbeReport:
    """Lines to print (one per page or mail) and the mismatches (one line each)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def seen(self, step: str, res: PortalResult, profile: TargetProfile) -> None:
        page = profile.page_match(res.text) if res.text else None
        reason = profile.reason_match(res.text) if res.text else None
        how = f"page {page[0]} ({page[1]})" if page else "page unclassified"
        if reason:
            how += f", reason {reason[0]} ({reason[1]})"
        self.lines.append(f"{step}: {res.status} {res.path} -> {how}")
        said = res.unclassified() if page is None else {}
        if said:                 # what the page said, so the profile's [pages] can be fixed to know it
            self.lines.append(f"  {step}: the page says {excerpt_line(said['excerpt'])}")

    def expect(self, step: str, res: PortalResult, pages: tuple[str, ...], reason: str | None = None) -> bool:
        """Whether `res` is one of `pages` (and shows `reason`); a problem line when not."""
        if res.problem or res.error:
            self.problems.append(f"{step}: {res.problem or res.error}")
            return False
        if res.page not in pages or (reason is not None and res.reason != reason):
            got = f"page {res.page or 'unclassified'}" + (f", reason {res.reason}" if res.reason else "")
            want = "/".join(pages) + (f" with reason {reason}" if reason else "")
            said = res.unclassified()
            self.problems.append(f"{step}: expected {want}, got {got} at {res.path} (HTTP {res.status})"
                                 + (f"; title {said['excerpt']['title']!r}" if said else ""))
            return False
        return True


class Prober:
    """One browser-like client and one inbox reader, as a persona has."""

    def __init__(self, target: str, inbox_url: str, profile: TargetProfile) -> None:
        self.profile = profile
        self.report = ProbeReport()
        event = EventHook()
        self.portal = PortalClient(FastHttpSession(target.rstrip("/"), request_event=event, user=None,
                                                   network_timeout=60.0, connection_timeout=30.0, max_retries=0),
                                   profile, LoopWatch(window_s=60.0))
        inbox = FastHttpSession(inbox_url.rstrip("/"), request_event=event, user=None,
                                network_timeout=MAIL_WAIT_S + 30.0, connection_timeout=30.0, max_retries=0)
        inbox.client.cookiejar = None
        self.inbox = InboxClient(inbox, profile)

    def step(self, name: str, res: PortalResult, pages: tuple[str, ...], reason: str | None = None) -> bool:
        self.report.seen(name, res, self.profile)
        return self.report.expect(name, res, pages, reason)

    def mail(self, name: str, to: str, query: str, after: int) -> Mail | None:
        q = " ".join(x for x in (f"to:{to}", query) if x)
        try:
            mail = self.inbox.wait(q, after, MAIL_WAIT_S)
        except WaitError as exc:
            self.report.problems.append(f"{name}: inbox: {exc}")
            return None
        if mail is None:
            quiet = self.profile.policy.get("new_login_mails_code_after_s")
            hint = (f" (policy new_login_mails_code_after_s = {quiet}: a login that soon after the last code "
                    "mails none; probe again later)" if quiet and query == self.profile.code_query else "")
            self.report.problems.append(f"{name}: no mail matching {q!r} within {MAIL_WAIT_S:.0f} s{hint}")
            return None
        self.report.lines.append(f"{name}: mail seq {mail.seq} to {to}, code {mail.code!r} "
                                 f"(mail.code_regex {self.profile.code_regex.pattern!r})")
        return mail

    def sign_in(self, acc: dict[str, Any], step: str = "login") -> PortalResult:
        p = self.profile
        path = p.paths["affiliate_login" if step == "affiliate_login" else "login"]
        page = self.portal.get(path)
        self.step(f"{step} page", page, ("login", "affiliate_login"))
        return self.portal.submit(page, path, {p.fields["username"]: acc["username"],
                                               p.fields["password"]: acc["password"]}, step=step)

    def code_flow(self, acc: dict[str, Any]) -> bool:
        """Login, code mail, resend, wrong code, right code, account, logout."""
        p = self.profile
        after = self.inbox.current_seq()
        res = self.sign_in(acc)
        if not self.step("login", res, ("verify",)):
            return False
        verify_page = res
        mail = self.mail("code mail", acc["notification_email"], p.code_query, after)
        if mail is None or not mail.code:
            if mail is not None:
                self.report.problems.append(f"code mail: mail.code_regex {p.code_regex.pattern!r} "
                                            f"does not match: {mail.snippet[:120]!r}")
            return False
        code = mail.code
        if p.has("resend"):
            res = self.portal.submit(verify_page, p.paths["resend"], {}, step="resend")
            if self.step("resend", res, ("verify",)) and res.reason is not None:
                verify_page = res                     # refused (a cooldown): recognised, no mail expected
                self.report.lines.append(f"resend: refused with reason {res.reason}: no new code expected")
            elif res.page == "verify" and not res.problem:
                verify_page = res
                again = self.mail("resent mail", acc["notification_email"], p.code_query, mail.seq)
                code = again.code if again is not None and again.code else code
        wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}" if code.isdigit() else code + "x"
        res = self.portal.submit(verify_page, p.paths["verify"], {p.fields["code"]: wrong}, step="verify")
        if self.step("wrong code", res, ("verify",), "wrong"):
            verify_page = res
        res = self._right_code(verify_page, code)
        if not self.step("right code", res, ("account",)):
            return False
        res = self.portal.get(p.paths["account"])
        if not self.step("account", res, ("account",)):
            return False
        res = self.portal.submit(res, p.paths["logout"], {}, step="logout")
        self.report.seen("logout", res, p)
        if res.problem or res.error:
            self.report.problems.append(f"logout: {res.problem or res.error}")
        after_logout = self.portal.get(p.paths["account"])
        self.report.seen("account after logout", after_logout, p)
        if after_logout.page == "account":
            self.report.problems.append("account after logout: still served the account page")
        return True

    def _right_code(self, page: PortalResult, code: str) -> PortalResult:
        """The right code; a back-off after the wrong one (refused, rate_limited) is waited out."""
        p = self.profile
        res = self.portal.submit(page, p.paths["verify"], {p.fields["code"]: code}, step="verify")
        for n in range(BACKOFF_TRIES):
            if res.page != "verify" or res.reason != "rate_limited":
                break
            self.report.lines.append(f"right code: rate_limited (the target's back-off), retry in {2 ** n} s")
            time.sleep(2 ** n)
            res = self.portal.submit(res, p.paths["verify"], {p.fields["code"]: code}, step="verify")
        return res

    def affiliate(self, acc: dict[str, Any]) -> None:
        self.portal.clear_cookies()
        res = self.sign_in(acc, "affiliate_login")
        self.step("affiliate", res, ("affiliate_dashboard",))
        self.portal.clear_cookies()

    def forgot_and_reset(self, acc: dict[str, Any]) -> None:
        """Forgot password, reset mail, reset form (same password again), then sign-in answers."""
        p = self.profile
        self.portal.clear_cookies()
        after = self.inbox.current_seq()
        page = self.portal.get(p.paths["forgot_password"])
        if not self.step("forgot page", page, ("forgot_password",)):
            return
        who = acc.get("email") or acc["username"] if p.fields["forgot_username"] == "email" else acc["username"]
        res = self.portal.submit(page, p.paths["forgot_password"], {p.fields["forgot_username"]: who},
                                 step="forgot_password")
        self.report.seen("forgot", res, p)
        if res.problem or res.error or res.status >= 400:
            self.report.problems.append(f"forgot: {res.problem or res.error or f'HTTP {res.status}'}")
            return
        mail = self.mail("reset mail", acc.get("email") or acc["notification_email"], p.reset_query, after)
        if mail is None:
            return
        text = self.inbox.text(mail.api_id)
        link = p.reset_link_regex.search(text) if p.reset_link_regex else None
        if link is None:
            self.report.problems.append(f"reset mail: mail.reset_link_regex does not match: {text[:160]!r}")
            return
        page = self.portal.get(link.group(1) if link.groups() else link.group(0))
        if not self.step("reset page", page, ("reset_password",)):
            return
        res = self.portal.submit(page, p.paths["reset_password"], {p.fields["new_password"]: acc["password"]},
                                 step="reset_password", confirm=acc["password"])
        self.step("reset", res, ("login",))


def load_accounts(path: str | Path) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(a, dict) and "username" in a for a in data):
        raise ValueError(f"{path}: not an accounts file (a JSON list of accounts)")
    return data


def probe(target: str, inbox_url: str, profile: TargetProfile, accounts: list[dict[str, Any]]) -> ProbeReport:
    """Walk every flow the profile says the portal has; the report says what was seen and what did not fit."""
    prober = Prober(target, inbox_url, profile)
    partners = [a for a in accounts if a.get("program") != "affiliate"]
    affiliates = [a for a in accounts if a.get("program") == "affiliate"]
    if not partners:
        prober.report.problems.append("accounts: no partner account to probe with")
        return prober.report
    acc = partners[-1]
    prober.code_flow(acc)
    if profile.has("affiliate_dashboard") and affiliates:
        prober.affiliate(affiliates[-1])
    elif profile.has("affiliate_dashboard"):
        prober.report.lines.append("affiliate: skipped (no affiliate in the accounts file)")
    if profile.has("forgot_password") and profile.has("reset_password"):
        prober.forgot_and_reset(acc)
    return prober.report


def time_problem(profile: TargetProfile, time_scale: float) -> str | None:
    """A --target run at a time scale the target's clock does not run at cannot be judged."""
    clock = profile.policy.get("clock_scale")
    if clock == "harness" or (clock is None and time_scale == 1):
        return None
    if isinstance(clock, int | float) and not isinstance(clock, bool) and float(clock) == float(time_scale):
        return None
    said = "declares no clock scale" if clock is None else f"declares policy.clock_scale = {clock!r}"
    return (f"--time-scale {time_scale:g} with --target: the profile {profile.name} {said}; the target's "
            f"clock runs at its own pace, so run at --time-scale {clock if clock is not None else 1} or declare "
            "policy.clock_scale (\"harness\": the target follows the harness's clock)")


def feature_problem(profile: TargetProfile, personas: dict[str, float]) -> str | None:
    """The scenario's personas that need a feature the profile says the portal lacks, or None."""
    missing = [f"{name} needs {feature}" for name, weight in personas.items() if weight
               for feature in NEEDS.get(name, ()) if not profile.has(feature)]
    if not missing:
        return None
    return (f"the scenario cannot run against {profile.name}: {'; '.join(missing)} "
            f"(paths.X = \"none\" in {profile.source}); drop those personas")


def preflight(target: str, inbox_url: str, profile: TargetProfile, accounts: list[dict[str, Any]],
              time_scale: float, personas: dict[str, float] | None = None) -> str | None:
    """The problem that stops a target run before any load (time rule, features, then the probe), or None."""
    problem = time_problem(profile, time_scale) or feature_problem(profile, personas or {})
    if problem:
        return problem
    report = probe(target, inbox_url, profile, accounts)
    if report.ok:
        return None
    return (f"probe of {target} with profile {profile.name} failed ({len(report.problems)} mismatch(es)): "
            + "; ".join(report.problems) + " (run `mfa-harness probe` for the whole walk)")
