"""Tornado handlers for the portal pages: HTTP in, `Portal` use case, HTML out.

Contract markup (docs/interfaces.md): `<body data-page=...>`, errors as
`<p class="error" role="alert" data-reason=...>`, 303 redirects with relative Location.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import tornado.httputil
import tornado.web

from .challenge import sanitize_next
from .portal import Portal
from .storage import session_tag
from .wording import MESSAGES, mask, wait_text

PENDING_COOKIE = "pp_pending"
SESSION_COOKIE = "pp_session"
DEVICE_COOKIE = "pp_device"  # a browser's own password-throttle bucket once it signed in (README "Security")
DEVICE_DAYS = 365
MAX_FORM_BODY = 64 * 1024
DEFAULT_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
)



class CookiesBlocked(tornado.web.HTTPError):
    """The browser did not send back a cookie we just set: show the cookies-blocked page."""

    def __init__(self) -> None:
        super().__init__(400, "cookies seem to be blocked")


class BaseHandler(tornado.web.RequestHandler):
    """Common headers, body limit, cookies and rendering."""

    @property
    def portal(self) -> Portal:
        return self.application.settings["portal"]

    def set_default_headers(self) -> None:
        """The security headers of every answer: constants, so they skip `set_header`'s per-call
        type and control-character checks (a ~1 % of the portal's CPU for four fixed strings)."""
        headers = self._headers
        for name, value in DEFAULT_HEADERS:
            headers[name] = value

    def compute_etag(self) -> None:
        """No ETag: pages are `no-store` and carry a fresh `_xsrf` token, so Tornado's SHA-1 of every
        body could never match (it cost ~1 % of the portal's CPU under load)."""
        return None

    def check_etag_header(self) -> bool:
        """No ETag is ever sent, so no `If-None-Match` can match (Tornado ran a regex over it per GET)."""
        return False

    def enforce_body_limit(self) -> None:
        declared = self.request.headers.get("Content-Length")
        if (declared and declared.isdigit() and int(declared) > MAX_FORM_BODY) or len(self.request.body) > MAX_FORM_BODY:
            raise tornado.web.HTTPError(413, "request body too large")

    def prepare(self) -> None:
        self.enforce_body_limit()

    def check_xsrf_cookie(self) -> None:
        self.enforce_body_limit()
        if not self.get_cookie("_xsrf"):
            raise CookiesBlocked()
        super().check_xsrf_cookie()

    # ---- cookies -------------------------------------------------------------------------
    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The request's cookie `name`, from Tornado's own `parse_cookie` of the Cookie header, kept
        as a plain dict: `request.cookies` builds an `http.cookies.Morsel` per cookie on every
        request (~1 % of the portal's CPU). Values are the same for the names the portal reads;
        only Morsel's second unquoting of an already unquoted, quoted-twice value differs."""
        jar = self.__dict__.get("_plain_cookies")
        if jar is None:
            header = self.request.headers.get("Cookie")
            jar = tornado.httputil.parse_cookie(header) if header else {}
            self._plain_cookies = jar
        return jar.get(name, default)

    def _cookie_args(self) -> dict[str, Any]:
        return {"httponly": True, "samesite": "Lax", "secure": self.request.protocol == "https", "path": "/"}

    def set_auth_cookie(self, name: str, value: str) -> None:
        self.set_signed_cookie(name, value, expires_days=None, **self._cookie_args())

    def auth_cookie(self, name: str) -> str | None:
        """The request's signed cookie `name` (verified once per request: pages ask for it several times)."""
        seen = self.__dict__.setdefault("_auth_cookies", {})
        if name not in seen:
            raw = self.get_signed_cookie(name, max_age_days=1)
            seen[name] = raw.decode() if raw else None
        return seen[name]

    def drop_cookie(self, name: str) -> None:
        self.clear_cookie(name, path="/")

    def device(self) -> str:
        """This browser's device id (signed cookie); a new one is made, and set only by `keep_device`."""
        if not hasattr(self, "_device"):
            raw = self.get_signed_cookie(DEVICE_COOKIE, max_age_days=DEVICE_DAYS)
            self._device, self._device_new = (raw.decode(), False) if raw else (secrets.token_urlsafe(32), True)
        return self._device

    def keep_device(self) -> None:
        """After a sign-in or reset that trusted this device: make sure the browser keeps its id."""
        if getattr(self, "_device_new", False):
            self.set_signed_cookie(DEVICE_COOKIE, self._device, expires_days=DEVICE_DAYS, **self._cookie_args())

    # ---- rendering -----------------------------------------------------------------------
    def page(self, template: str, page: str, title: str, status: int = 200, error: str | None = None,
             notice: str | None = None, error_text: str | None = None, **kw: Any) -> None:
        self.set_status(status)
        err = (error, error_text or MESSAGES.get(error, error)) if error else None
        self.render(template, page=page, title=title, error=err, notice=notice, **kw)

    def refused_login(self, template: str, page: str, title: str, refused, **kw: Any) -> None:
        """429 on the login form: the password was right, but no code may be sent now."""
        wall = max(1, math.ceil(self.portal.clock.wall_seconds(refused.retry_after)))
        self.set_header("Retry-After", str(wall))
        self.set_header("X-Retry-After-Scenario", f"{refused.retry_after:.3f}")
        if refused.reason == "guess_freeze":
            text = ("Too many wrong codes were entered for this account. Reset your password"
                    " (Forgot your password?) or contact support.")
        else:
            text = f"Too many sign-in codes for this account. Please wait {wait_text(wall)} and sign in again."
        self.page(template, page, title, status=429, error="rate_limited", error_text=text, **kw)

    def see_other(self, location: str) -> None:
        self.set_status(303)
        self.set_header("Location", location)
        self.finish()

    def arg(self, name: str, default: str = "") -> str:
        return self.get_body_argument(name, default) or ""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.clear_header("Location")
        if isinstance(exc, CookiesBlocked):
            self.render("cookies_blocked.html", page="cookies-blocked", title="Cookies are blocked", error=None,
                        notice=None)
            return
        reason = "bad_request" if 400 <= status_code < 500 else None
        text = {404: "This page does not exist.", 413: "The request is too large.",
                403: "The request was refused.", 405: "This method is not allowed here."}.get(
                    status_code, MESSAGES["bad_request"] if reason else "Something went wrong on our side.")
        self.render("error.html", page="error", title="Error", error=(reason, text) if reason else None,
                    notice=None, status_code=status_code, text=text)


class ChooserHandler(BaseHandler):
    def get(self) -> None:
        self.page("chooser.html", "chooser", "Choose your program")


class PartnerLoginHandler(BaseHandler):
    def get(self) -> None:
        notice = "Your password was changed. Sign in with the new one." if self.get_query_argument(
            "reset", None) == "1" else None
        self.page("partner_login.html", "partner-login", "Partner sign in", notice=notice,
                  next_path=sanitize_next(self.get_query_argument("next", None), ""))

    async def post(self) -> None:
        username = self.arg("username").strip()
        password = self.arg("password")
        next_path = sanitize_next(self.get_argument("next", None), "")
        result = await self.portal.login_partner(username, password, next_path or None, self.device())
        if result.refused is not None:
            self.keep_device()
            self.refused_login("partner_login.html", "partner-login", "Partner sign in", result.refused,
                               next_path=next_path, username=username)
            return
        if not result.ok:
            self.page("partner_login.html", "partner-login", "Partner sign in", status=401, error="generic_login",
                      next_path=next_path, username=username)
            return
        self.keep_device()
        self.set_auth_cookie(PENDING_COOKIE, result.pending_sid)
        self.see_other("/partner/verify?c=1")


class VerifyHandler(BaseHandler):
    def _render(self, ch, status: int = 200, error: str | None = None, error_text: str | None = None) -> None:
        partner = self.portal.store.partner(ch.partner_id) if ch else None
        live = ch is not None and ch.status == "pending"
        codes = self.portal.store.codes_of_challenge(ch.id) if live else None
        remaining = self.portal.code_remaining(ch, codes) if live else None
        preview = self.portal.resend_preview(ch, codes) if live else None
        wait = None  # wall seconds until "Send another code" is accepted again, shown in the form
        if preview is not None and preview.reason in ("cooldown", "account_cap"):
            wait = max(1, math.ceil(self.portal.clock.wall_seconds(preview.retry_after)))
        self.page("partner_verify.html", "partner-verify", "Enter your code", status=status, error=error,
                  error_text=error_text, ref=ch.ref if ch else None, remaining=remaining, resend_wait=wait,
                  resend_wait_text=wait_text(wait) if wait else "",
                  resend_capped=preview is not None and preview.reason == "challenge_cap",
                  masked=mask(self.portal.recipient_for(partner)) if partner else None)

    def get(self) -> None:
        if self.portal.full_session(self.auth_cookie(SESSION_COOKIE)):
            self.see_other("/partner/account")
            return
        sess, ch = self.portal.pending(self.auth_cookie(PENDING_COOKIE))
        if sess is None:
            # Loop breaker: the login we just answered set the pending cookie; if the browser did
            # not send it back at all, cookies are blocked. A cookie that came back but is not
            # valid here is the portal's problem, and the browser goes back to the login form.
            if self.get_query_argument("c", None) == "1" and self.get_cookie(PENDING_COOKIE) is None:
                raise CookiesBlocked()
            self.see_other("/partner/login")
            return
        self._render(ch)

    async def post(self) -> None:
        pending_sid = self.auth_cookie(PENDING_COOKIE)
        result = await self.portal.verify(pending_sid, self.arg("code"))
        if result.ok:
            self.drop_cookie(PENDING_COOKIE)
            if "loop-after-verify" not in self.portal.bugs:
                self.set_auth_cookie(SESSION_COOKIE, result.session_sid)
            self.see_other(sanitize_next(result.next_path))
            return
        _, ch = self.portal.pending(pending_sid)
        ui = {"challenge_dead": "expired", "used": "no_challenge"}.get(result.reason, result.reason)
        self._render(ch, status=400, error=ui)


class ResendHandler(VerifyHandler):
    def get(self) -> None:
        self.see_other("/partner/verify")

    def post(self) -> None:
        pending_sid = self.auth_cookie(PENDING_COOKIE)
        result = self.portal.resend(pending_sid)
        _, ch = self.portal.pending(pending_sid)
        if result.ok:
            self.see_other("/partner/verify")
            return
        if result.reason in ("cooldown", "challenge_cap", "account_cap"):
            wall = max(1, math.ceil(self.portal.clock.wall_seconds(result.retry_after)))
            self.set_header("Retry-After", str(wall))
            self.set_header("X-Retry-After-Scenario", f"{result.retry_after:.3f}")
            if result.reason == "challenge_cap":
                text = "No more codes can be sent for this sign-in. Use the latest code, or sign in again."
            else:
                text = f"Please wait {wait_text(wall)} before asking for another code."
            self._render(ch, status=429, error="rate_limited", error_text=text)
            return
        if result.reason == "no_challenge" or ch is None:
            self._render(None, status=400, error="no_challenge")
            return
        self._render(ch, status=400, error="too_many" if ch.status == "dead" else "expired")


class AccountBase(BaseHandler):
    """Resolve who may see partner data; record `account_served` whenever we serve it."""

    allow_pending_bypass = False

    def signed_in(self):
        """(session row, mfa passed) or None after sending the right redirect."""
        sess = self.portal.full_session(self.auth_cookie(SESSION_COOKIE))
        if sess is not None:
            if sess.program == "affiliate":
                self.see_other("/affiliate/dashboard")
                return None
            return sess, bool(sess.mfa), self.auth_cookie(SESSION_COOKIE)
        pending_sid = self.auth_cookie(PENDING_COOKIE)
        psess, ch = self.portal.pending(pending_sid)
        if psess is not None and ch is not None and ch.status == "pending":
            if self.allow_pending_bypass and "mfa-bypass" in self.portal.bugs:
                return psess, False, pending_sid
            self.see_other("/partner/verify")
            return None
        self.see_other("/partner/login")
        return None

    def served(self, sess, mfa: bool, sid: str) -> None:
        with self.portal.store.tx():
            self.portal.store.event("account_served", session=session_tag(sid), partner_id=sess.partner_id,
                                    mfa=mfa, path=self.request.path)


class AccountHandler(AccountBase):
    allow_pending_bypass = True

    def get(self) -> None:
        who = self.signed_in()
        if who is None:
            return
        sess, mfa, sid = who
        partner = self.portal.store.partner(sess.partner_id)
        self.served(sess, mfa, sid)
        self.page("partner_account.html", "partner-account", "Your partner account", partner=partner)


class MyAccountHandler(AccountBase):
    def _show(self, partner, status: int = 200, error: str | None = None, notice: str | None = None,
              problem: str | None = None) -> None:
        self.page("my_account.html", "my-account", "My account", status=status, error=error, notice=notice,
                  partner=partner, problem=problem)

    def get(self) -> None:
        who = self.signed_in()
        if who is None:
            return
        sess, mfa, sid = who
        self.served(sess, mfa, sid)
        self._show(self.portal.store.partner(sess.partner_id))

    async def post(self) -> None:
        who = self.signed_in()
        if who is None:
            return
        sess, mfa, sid = who
        problem = await self.portal.change_password(sess.partner_id, self.arg("current_password"),
                                                    self.arg("new_password"))
        partner = self.portal.store.partner(sess.partner_id)
        self.served(sess, mfa, sid)
        if problem:
            self._show(partner, status=400, error="bad_request", problem=problem)
        else:
            self._show(partner, notice="Your password was changed.")


class AffiliateLoginHandler(BaseHandler):
    def get(self) -> None:
        self.page("affiliate_login.html", "affiliate-login", "Affiliate sign in")

    async def post(self) -> None:
        username = self.arg("username").strip()
        result = await self.portal.login_affiliate(username, self.arg("password"), self.device())
        if result.refused is not None:
            self.keep_device()
            self.refused_login("affiliate_login.html", "affiliate-login", "Affiliate sign in", result.refused,
                               username=username)
            return
        if not result.ok:
            self.page("affiliate_login.html", "affiliate-login", "Affiliate sign in", status=401,
                      error="generic_login", username=username)
            return
        self.keep_device()
        if result.pending_sid:
            self.set_auth_cookie(PENDING_COOKIE, result.pending_sid)
            self.see_other("/partner/verify?c=1")
            return
        self.set_auth_cookie(SESSION_COOKIE, result.session_sid)
        self.see_other("/affiliate/dashboard")


class AffiliateDashboardHandler(BaseHandler):
    def get(self) -> None:
        sess = self.portal.full_session(self.auth_cookie(SESSION_COOKIE))
        if sess is None or sess.program != "affiliate":
            self.see_other("/affiliate/login")
            return
        partner = self.portal.store.partner(sess.partner_id)
        self.page("affiliate_dashboard.html", "affiliate-dashboard", "Affiliate dashboard", partner=partner)


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.portal.logout(self.auth_cookie(SESSION_COOKIE), self.auth_cookie(PENDING_COOKIE))
        self.drop_cookie(SESSION_COOKIE)
        self.drop_cookie(PENDING_COOKIE)
        self.see_other("/")


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok")


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        raise tornado.web.HTTPError(404)
