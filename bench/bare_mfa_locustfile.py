"""The bare client floor for the harness's request mix: FastHttpUser doing the same MFA logins, no harness.

Same portal, same inbox, same requests as the default personas (partner login form, login POST
and its redirect, the inbox long-poll `wait`, verify POST and its redirect, the account page,
logout and its redirect; affiliates sign in and out without a code), same pacing. What it
leaves out is everything the harness adds per request: no history, no `html.parser` (the
`_xsrf` token is cut out with `str.find`), no page classification, no loop watch, no flow
metrics. Redirects are followed with the same one-line loop so every hop is a counted request,
and cookies go through the harness's one-origin jar (Locust's default `http.cookiejar` would
make the floor dearer than the harness). `end_to_end` divides its Locust CPU by its requests:
the cost of a request of this mix to a bare client, against which the harness is measured.

Options: ``--inbox-url`` and ``--time-scale`` as the harness takes them (accounts come from
the portal's ``/_harness/accounts``).
"""

from __future__ import annotations

import itertools
import random
import threading
import urllib.parse
from typing import Any

from locust import FastHttpUser, events, task
from locust.contrib.fasthttp import FastHttpSession

from mfa_harness.harness_http import PortalHarness
from mfa_harness.loadtests.cookies import OneOriginJar

XSRF = 'name="_xsrf" value="'
REF = 'data-ref="'
_accounts: dict[str, list[dict[str, Any]]] = {}
_taken = itertools.count()
_accounts_lock = threading.Lock()  # Locust's gevent patches it: one fetch per run, not one per user


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--inbox-url", default="")
    parser.add_argument("--time-scale", type=float, default=100.0)


def _cut(text: str, marker: str) -> str:
    start = text.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    return text[start:text.find('"', start)]


def _account(host: str, affiliate: bool) -> dict[str, Any]:
    with _accounts_lock:  # the fetch yields to the other users spawning: without it each one fetched
        if not _accounts:
            for acc in PortalHarness(host).accounts():
                if not acc.get("locked"):
                    _accounts.setdefault("affiliate" if acc["program"] == "affiliate" else "partner", []).append(acc)
    pool = _accounts["affiliate" if affiliate else "partner"]
    return pool[next(_taken) % len(pool)]


class BareMfaUser(FastHttpUser):
    abstract = True
    affiliate = False
    network_timeout = 60.0
    max_retries = 0

    def wait_time(self) -> float:
        return random.uniform(5.0, 30.0) / self.environment.parsed_options.time_scale

    def on_start(self) -> None:
        self.account = _account(self.host, self.affiliate)
        self.client.cookiejar = self.client.client.cookiejar = OneOriginJar()
        self.inbox = FastHttpSession(self.environment.parsed_options.inbox_url, request_event=self.environment.events.request,
                                     user=None, network_timeout=330.0, connection_timeout=30.0, max_retries=0)
        self.inbox.client.cookiejar = None
        self.seq = 0

    def go(self, method: str, path: str, data: dict[str, str] | None = None) -> str:
        """One request and its redirects, each a counted request; the last page's text."""
        resp = self.client.request(method, path, data=data, allow_redirects=False)
        while resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
            resp = self.client.request("GET", resp.headers["Location"], allow_redirects=False)
        return resp.text or ""

    def login(self, path: str) -> str:
        page = self.go("GET", path)
        return self.go("POST", path, {"_xsrf": _cut(page, XSRF), "username": self.account["username"],
                                      "password": self.account["password"]})

    def logout(self, page: str) -> None:
        self.go("POST", "/logout", {"_xsrf": _cut(page, XSRF)})


class BarePartner(BareMfaUser):
    weight = 4

    @task
    def mfa_login(self) -> None:
        verify = self.login("/partner/login")
        ref = _cut(verify, REF)
        if not ref:
            return
        q = urllib.parse.urlencode({"query": f"to:{self.account['notification_email']} subject:verification {ref}",
                                    "after": self.seq, "timeout": "30", "folder": "inbox"})
        resp = self.inbox.request("GET", f"/api/v1/wait?{q}", name="wait")
        if resp.status_code != 200:
            return
        mail = resp.json()
        self.seq = max(self.seq, int(mail.get("Seq") or 0))
        account = self.go("POST", "/partner/verify", {"_xsrf": _cut(verify, XSRF), "code": str(mail.get("Code"))})
        account = self.go("GET", "/partner/account") or account
        self.logout(account)


class BareAffiliate(BareMfaUser):
    weight = 1
    affiliate = True

    @task
    def affiliate_login(self) -> None:
        self.logout(self.login("/affiliate/login"))
