"""Tornado application factory: routes, settings, and the per-process wiring."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import tornado.httputil
import tornado.log
import tornado.web

from . import handlers as h
from . import harness
from . import recovery_handlers as recovery
from .hosts import HostRule, host_rule
from .portal import Portal

TEMPLATES = Path(__file__).parent / "templates"


class MisdirectedHandler(tornado.web.RequestHandler):
    """421 for a Host that is not the portal's own, whatever the path and method."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(421)

    def check_xsrf_cookie(self) -> None:
        raise tornado.web.HTTPError(421)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        rule: HostRule = self.application.settings["hosts"]
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} Misdirected Request: this portal answers only to Host {rule.describe()}"
                    " (see --public-url)\n")


class PortalApplication(tornado.web.Application):
    """The routes, behind one gate: requests for another Host never reach a handler."""

    def find_handler(self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any):
        if not self.settings["hosts"].allows(request.host):
            return self.get_handler_delegate(request, MisdirectedHandler)
        return super().find_handler(request, **kwargs)

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Tornado's access line, formatted only when `tornado.access` would write it (every request at
        `--log-level DEBUG`, else only 4xx and 5xx): Tornado formatted each request's line first."""
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        if tornado.log.access_log.isEnabledFor(level):
            super().log_request(handler)


def make_app(portal: Portal, cookie_secret: str, harness_mode: bool,
             hosts: HostRule | None = None) -> tornado.web.Application:
    """The portal's routes; `hosts` (default: loopback names on any port) gates every request."""
    routes: list = [
        (r"/", h.ChooserHandler),
        (r"/partner/login", h.PartnerLoginHandler),
        (r"/partner/verify", h.VerifyHandler),
        (r"/partner/verify/resend", h.ResendHandler),
        (r"/partner/account", h.AccountHandler),
        (r"/partner/my-account", h.MyAccountHandler),
        (r"/partner/forgot-password", recovery.ForgotPasswordHandler),
        (r"/partner/reset-password", recovery.ResetPasswordHandler),
        (r"/affiliate/login", h.AffiliateLoginHandler),
        (r"/affiliate/dashboard", h.AffiliateDashboardHandler),
        (r"/logout", h.LogoutHandler),
        (r"/healthz", h.HealthHandler),
    ]
    if harness_mode:
        routes += [
            (r"/_harness/accounts", harness.AccountsHandler),
            (r"/_harness/events", harness.EventsHandler),
            (r"/_harness/clock", harness.ClockHandler),
            (r"/_harness/notification-email", harness.NotificationEmailHandler),
            (r"/_harness/lock", harness.LockHandler, {"locked": True}),
            (r"/_harness/unlock", harness.LockHandler, {"locked": False}),
        ]
    return PortalApplication(
        routes,
        hosts=hosts or host_rule("127.0.0.1", None, None),
        default_handler_class=h.NotFoundHandler,
        template_path=str(TEMPLATES),
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax", "path": "/"},
        portal=portal,
        compress_response=False,
    )
