"""The password-recovery pages: forgot password (mails a reset link) and reset password.

Both answer the same whether or not the username exists or a budget refused the mail; the
link's base is `--public-url`, never the request's Host (see `server/recovery.py`).
"""

from __future__ import annotations

from .handlers import PENDING_COOKIE, SESSION_COOKIE, BaseHandler


class ForgotPasswordHandler(BaseHandler):
    def get(self) -> None:
        self.page("forgot_password.html", "forgot-password", "Forgot your password?", sent=False)

    def post(self) -> None:
        username = self.arg("username").strip()
        # the link's base is `--public-url`, never this request's Host; refused or not, same answer
        self.portal.request_reset(username, self.request.remote_ip or "?", self.device())
        self.page("forgot_password.html", "forgot-password", "Forgot your password?", sent=True,
                  notice="If an account with this username exists, we sent a reset link to its notification address.")


class ResetPasswordHandler(BaseHandler):
    def get(self) -> None:
        token = self.get_query_argument("token", "")
        if not self.portal.reset_token_valid(token):
            self.page("reset_password.html", "reset-password", "Choose a new password", status=400,
                      error="bad_token", token=None, problem=None)
            return
        self.page("reset_password.html", "reset-password", "Choose a new password", token=token, problem=None)

    async def post(self) -> None:
        token = self.arg("token")
        new = self.arg("new_password")
        problem = await self.portal.reset_password(token, new, self.device())
        if problem is None and "mfa-bypass-after-reset" in self.portal.bugs:
            self.set_auth_cookie(SESSION_COOKIE, self.portal.session_after_reset(token))
            self.see_other("/partner/account")
            return
        if problem is None:
            self.keep_device()
            self.drop_cookie(SESSION_COOKIE)
            self.drop_cookie(PENDING_COOKIE)
            self.see_other("/partner/login?reset=1")
            return
        if problem == "bad_token":
            self.page("reset_password.html", "reset-password", "Choose a new password", status=400,
                      error="bad_token", token=None, problem=None)
            return
        self.page("reset_password.html", "reset-password", "Choose a new password", status=400,
                  error="bad_request", token=token, problem=problem)
