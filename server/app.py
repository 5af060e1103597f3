"""Tornado application factory: routes, settings, and the per-process wiring."""

from __future__ import annotations

from pathlib import Path

import tornado.web

from . import handlers as h
from . import harness
from .portal import Portal

TEMPLATES = Path(__file__).parent / "templates"


def make_app(portal: Portal, cookie_secret: str, harness_mode: bool) -> tornado.web.Application:
    routes: list = [
        (r"/", h.ChooserHandler),
        (r"/partner/login", h.PartnerLoginHandler),
        (r"/partner/verify", h.VerifyHandler),
        (r"/partner/verify/resend", h.ResendHandler),
        (r"/partner/account", h.AccountHandler),
        (r"/partner/my-account", h.MyAccountHandler),
        (r"/partner/forgot-password", h.ForgotPasswordHandler),
        (r"/partner/reset-password", h.ResetPasswordHandler),
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
    return tornado.web.Application(
        routes,
        default_handler_class=h.NotFoundHandler,
        template_path=str(TEMPLATES),
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax", "path": "/"},
        portal=portal,
        compress_response=False,
    )
