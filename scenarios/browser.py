"""A small synchronous browser for tests and the pytest plugin: cookies, `_xsrf`, manual redirects.

Locust personas use the gevent client in `loadtests/`; this one is for a developer's test that
walks the portal step by step. It reads forms with a real HTML parser and records each hop.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from mfa_harness.harness_http import InboxApi


class _PageParser(HTMLParser):
    """Collects the page name, hidden inputs, error reasons, the challenge ref and form actions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page: str | None = None
        self.hidden: dict[str, str] = {}
        self.reasons: list[str] = []
        self.ref: str | None = None
        self.forms: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "body" and "data-page" in a:
            self.page = a["data-page"]
        elif tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "form":
            self.forms.append(a.get("action", ""))
        if "data-reason" in a:
            self.reasons.append(a["data-reason"])
        if "data-ref" in a and a["data-ref"]:
            self.ref = a["data-ref"]


@dataclass
class Page:
    """The end of a redirect chain: status, path, the page's markers and every hop taken."""

    status: int
    url: str
    body: str
    headers: dict[str, str]
    chain: list[str] = field(default_factory=list)
    page: str | None = None
    hidden: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    ref: str | None = None

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """One browser profile: a cookie jar (optionally disabled) and a base URL."""

    def __init__(self, base_url: str, *, cookies: bool = True, timeout: float = 30.0, max_hops: int = 10):
        self.base = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.cookies_enabled = cookies
        self.timeout = timeout
        self.max_hops = max_hops
        handlers: list[Any] = [_NoRedirect()]
        if cookies:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        self._opener = urllib.request.build_opener(*handlers)
        self.last: Page | None = None

    def _once(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            resp = self._opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            resp = err
        with resp:
            body = resp.read().decode("utf-8", "replace")
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, body

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Page:
        """Send one request and follow 30x by hand (GET), recording each hop; bounded hops."""
        url = path if path.startswith("http") else self.base + path
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
        hdrs.update(headers or {})
        chain = [url]
        status, resp_headers, body = self._once(method, url, data, hdrs)
        for _ in range(self.max_hops):
            if status not in (301, 302, 303, 307, 308) or "location" not in resp_headers:
                break
            url = urllib.parse.urljoin(url, resp_headers["location"])
            chain.append(url)
            status, resp_headers, body = self._once("GET", url, None, {})
        parser = _PageParser()
        if "html" in resp_headers.get("content-type", ""):
            parser.feed(body)
        page = Page(status=status, url=url, body=body, headers=resp_headers, chain=chain, page=parser.page,
                    hidden=parser.hidden, reasons=parser.reasons, ref=parser.ref)
        self.last = page
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def submit(self, path: str, fields: dict[str, str], *, form_page: str | None = None) -> Page:
        """GET the form page (for a fresh `_xsrf`), then POST `fields` to `path`."""
        page = self.get(form_page or path)
        return self.request("POST", path, {**page.hidden, **fields})

    def post_with_last_token(self, path: str, fields: dict[str, str]) -> Page:
        """POST using hidden fields of the last page seen (as a user clicking a button on it)."""
        hidden = self.last.hidden if self.last else {}
        return self.request("POST", path, {**hidden, **fields})


class Portal(Browser):
    """The reference portal's flow, step by step."""

    def login(self, username: str, password: str, next_path: str | None = None) -> Page:
        path = "/partner/login" + (f"?next={urllib.parse.quote(next_path)}" if next_path else "")
        return self.submit(path, {"username": username, "password": password})

    def verify(self, code: str) -> Page:
        return self.submit("/partner/verify", {"code": code})

    def resend(self) -> Page:
        page = self.get("/partner/verify")
        return self.request("POST", "/partner/verify/resend", dict(page.hidden))

    def account(self) -> Page:
        return self.get("/partner/account")

    def affiliate_login(self, username: str, password: str) -> Page:
        return self.submit("/affiliate/login", {"username": username, "password": password})

    def logout(self) -> Page:
        page = self.get("/partner/account")
        return self.request("POST", "/logout", dict(page.hidden))


class Inbox:
    """The inbox's API as a test needs it: wait for the next code, optionally for one reference.

    `api` is the project's inbox client (mfa_harness.harness_http.InboxApi) for everything else.
    """

    def __init__(self, url: str):
        self.api = InboxApi(url)
        self.url = self.api.url
        self.last_seq = 0

    def wait(self, query: str = "", *, after: int | None = None, timeout: float = 30.0,
             folder: str = "inbox") -> dict[str, Any] | None:
        """The first message matching `query` after `after` (default: the last one seen); None at
        the timeout; HttpError (a RuntimeError) for any other answer."""
        body = self.api.wait(query, after=self.last_seq if after is None else after, timeout=timeout, folder=folder)
        if body is not None:
            self.last_seq = max(self.last_seq, int(body["Seq"]))
        return body

    def wait_code(self, to: str, *, ref: str | None = None, after: int | None = None,
                  timeout: float = 30.0, folder: str = "inbox") -> str:
        query = f"to:{to}" + (f" {ref}" if ref else "")
        msg = self.wait(query, after=after, timeout=timeout, folder=folder)
        if msg is None or not msg.get("Code"):
            raise TimeoutError(f"no code for {query!r} within {timeout} s")
        return str(msg["Code"])

    def messages(self) -> list[dict[str, Any]]:
        return self.api.messages(limit=1000)["messages"]
