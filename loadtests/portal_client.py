"""A browser-like client of the portal on Locust's FastHttpSession (geventhttpclient).

Cookies live in a one-origin jar (`cookies.py`) installed in the session; redirects are followed by hand
(`allow_redirects=False`) so every hop is recorded and a loop is caught in the act; the
`_xsrf` token comes from the page's form, found with `html.parser`. Expected answers of
the MFA flow (401 bad login, 400 wrong code, 429 rate limited) count as successful HTTP
requests in Locust's stats: `http.fail_ratio` measures the portal failing, not users typing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .cookies import Cookie, OneOriginJar
from .page_excerpt import page_excerpt
from .pages import Form, find_form, parse_forms
from .profile import TargetProfile
from .redirects import Chain, LoopWatch, path_only, resolve
from .response_text import response_text

EXPECTED_STATUS = frozenset({200, 303, 302, 301, 307, 308, 400, 401, 403, 404, 429})


@dataclass
class PortalResult:
    """Where a request (and its redirects) ended, and what the page said."""

    status: int
    url: str
    text: str
    chain: list[str]
    page: str | None = None
    reason: str | None = None
    error: str | None = None            # connection error / timeout: the outcome is unknown
    looped: bool = False
    problem: str | None = None          # the step could not be taken (no matching form): says why
    headers: dict[str, str] = field(default_factory=dict)
    _forms: list[Form] | None = None
    _by_action: dict[str, Form] | None = None      # forms found from their own slice, by action

    @property
    def path(self) -> str:
        return path_only(self.url)

    def unclassified(self) -> dict[str, Any]:
        """`{"excerpt": …}` when the profile could not classify this answer, else {}: spread into a
        failing step's record so the run can show what the portal said. Made on that step's demand
        (rare), never per request; bounded whatever the page (loadtests/page_excerpt.py)."""
        if self.page is not None or self.error or self.looped or not self.status:
            return {}
        return {"excerpt": page_excerpt(self.status, self.path, self.text)}

    def forms(self) -> list[Form]:
        if self._forms is None:
            self._forms = parse_forms(self.text)
        return self._forms

    def form_for(self, action: str) -> Form | None:
        """The form posting to `action`: its own slice parsed first, the whole page if that missed.
        Read once per page and action: a code page is submitted again after a wrong code."""
        if self._forms is None:
            form = self._by_action.get(action) if self._by_action is not None else None
            if form is None:
                form = find_form(parse_forms(self.text, action=action), action=action)
            if form is not None:
                if self._by_action is None:
                    self._by_action = {}
                self._by_action[action] = form
                return form
        return find_form(self.forms(), action=action)


class PortalClient:
    """GET/POST with hand-followed redirects and loop detection, over one FastHttpSession."""

    def __init__(self, session: Any, profile: TargetProfile, loop_watch: LoopWatch,
                 fresh_connections: bool = False) -> None:
        self.session = session
        self.profile = profile
        self.loop_watch = loop_watch
        self.headers = {"Connection": "close"} if fresh_connections else None
        self._jar = OneOriginJar()
        session.cookiejar = self._jar
        session.client.cookiejar = self._jar

    # ---- cookies ---------------------------------------------------------------------------
    @property
    def jar(self) -> OneOriginJar:
        return self._jar

    def block_cookies(self, keep: frozenset[str] = frozenset()) -> None:
        """Behave like a browser that refuses cookies (all, or all but `keep`)."""
        self._jar.clear()
        self._jar.allowed = frozenset(keep)

    def allow_cookies(self) -> None:
        self._jar.allowed = None

    def snapshot(self) -> list[Cookie]:
        return list(self._jar)

    def restore(self, cookies: list[Cookie]) -> None:
        self._jar.clear()
        for c in cookies:
            self._jar.set_cookie(c)

    def clear_cookies(self) -> None:
        self._jar.clear()

    # ---- requests --------------------------------------------------------------------------
    def get(self, path: str) -> PortalResult:
        return self._follow("GET", path, None)

    def post(self, path: str, data: dict[str, str]) -> PortalResult:
        return self._follow("POST", path, data)

    def submit(self, page: PortalResult, action: str, values: dict[str, str], step: str | None = None,
               confirm: str | None = None) -> PortalResult:
        """Fill in the form of `page` for `step` (hidden fields such as `_xsrf` kept) and post it.

        With a `[forms.STEP]` in the profile the form is found by its field, empty action or
        button and gets the static fields (and `confirm` in its confirm field); otherwise it is
        the form posting to `action`. No matching form: no request, a result with `problem` and
        reason "no_form" naming the page and what was looked for (never a bare POST).
        """
        spec = self.profile.form(step) if step else None
        if spec is None:
            # Profiles without [forms] keep the old rule (the reference portal's personas post to a
            # path on purpose from pages without that form, e.g. a code with no pending login).
            form = page.form_for(action)
        else:
            form = find_form(page.forms(), action=spec.action, field_name=spec.field, button=spec.button,
                             strict=True)
            if form is None:
                return self._no_form(page, spec.describe())
        data = dict(form.fields) if form is not None else {}
        if spec is not None:
            clicked = [b for b in form.buttons if b[0] and spec.button in b] if form and spec.button else []
            if clicked:
                data.setdefault(*clicked[0])           # a browser sends the button it clicked (only that)
            data.update(spec.static)
            if spec.confirm_field and confirm is not None:
                data[spec.confirm_field] = confirm
        data.update(values)
        if form is not None and form.action.startswith("/"):
            target = form.action
        elif form is not None and form.action.strip() not in ("", "#"):
            target = resolve(self.session.base_url + page.url, form.action)
        elif form is not None:
            target = page.url or action                   # empty/missing action: the page's own URL
        else:
            target = action
        return self.post(target, data)

    def _no_form(self, page: PortalResult, wanted: str) -> PortalResult:
        return PortalResult(status=0, url=page.url, text="", chain=[page.url], page=None, reason="no_form",
                            problem=f"no form with {wanted} on {page.path} (page {page.page or 'unclassified'})")

    def _one(self, method: str, url: str, data: dict[str, str] | None) -> tuple[Any, str | None]:
        name = path_only(url)
        if self.profile.stat_names:
            name = self.profile.stat_name(name)
        with self.session.request(method, url, name=name, data=data, allow_redirects=False,
                                  catch_response=True, headers=self.headers) as resp:
            status = resp.status_code or 0
            error = getattr(resp, "error", None)
            if status == 0:
                resp.failure(f"no answer: {error}")
                return resp, f"{type(error).__name__}: {error}" if error is not None else "no answer"
            if status in EXPECTED_STATUS:
                resp.success()
            else:
                resp.failure(f"HTTP {status}")
            return resp, None

    def _follow(self, method: str, path: str, data: dict[str, str] | None) -> PortalResult:
        chain = Chain()
        url = path
        chain.add(url)
        resp, error = self._one(method, url, data)
        while error is None and resp.status_code in (301, 302, 303, 307, 308):
            location = resp.headers.get("Location") or resp.headers.get("location")
            if not location:
                break
            url = resolve(self.session.base_url + url if url.startswith("/") else url, location)
            if not url.startswith("/"):
                break                                   # another origin: not ours to follow
            if chain.add(url, form_again=method != "GET") or chain.too_long:
                return PortalResult(status=resp.status_code, url=url, text="", chain=chain.urls, looped=True)
            resp, error = self._one("GET", url, None)
        if error is not None:
            return PortalResult(status=0, url=url, text="", chain=chain.urls, error=error)
        text = response_text(resp) or ""
        result = PortalResult(status=resp.status_code, url=url, text=text, chain=chain.urls,
                              page=self.profile.page_of(text),
                              headers=self._retry_headers(resp) if resp.status_code == 429 else {})
        if result.status >= 400 or result.page in ("login", "verify", "error", "affiliate_login",
                                                   "reset_password", "forgot_password"):
            result.reason = self.profile.reason_of(text)
        if result.page == "login" and self.loop_watch.back_at_login(time.time()):
            result.looped = True
        return result

    def _retry_headers(self, resp: Any) -> dict[str, str]:
        out = {}
        for name in ("Retry-After", self.profile.retry_after_scenario_header):
            value = resp.headers.get(name) if resp.headers is not None else None
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if value is not None:
                out[name] = str(value)
        return out

    def retry_after_scenario(self, result: PortalResult, scale: float) -> float | None:
        """The portal's retry hint in scenario seconds (X-Retry-After-Scenario, else Retry-After)."""
        h = {k.lower(): v for k, v in result.headers.items()}
        raw = h.get(self.profile.retry_after_scenario_header.lower())
        try:
            if raw is not None:
                return float(raw)
            if "retry-after" in h:
                return float(h["retry-after"]) * scale
        except ValueError:
            return None
        return None
