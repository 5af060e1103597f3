"""A one-origin cookie jar for the simulated browser, in place of `http.cookiejar.CookieJar`.

geventhttpclient calls `add_cookie_header(request)` before and `extract_cookies(response,
request)` after every request. The stdlib jar does both through its general policy machinery
(domain rules, RFC 2965, locks, request wrappers): about a seventh of the load generator's CPU
per login, profiled. A simulated user talks to one portal, so this jar keeps cookies by (name,
path) and does what a browser does for one host (RFC 6265): path matching, the default path,
deletion by `Max-Age <= 0` or a past `Expires`, and a block list for browsers that refuse
cookies. Domain attributes are ignored (everything is the portal's host).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    path: str = "/"
    expires: float | None = None        # Unix time; None = a session cookie


def default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the directory of the request path."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[:request_path.rindex("/")]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def parse_set_cookie(header: str, request_path: str, now: float) -> Cookie | None:
    """One Set-Cookie value as a Cookie (expired ones have expires <= now), or None if malformed."""
    first, *attrs = header.split(";")
    name, eq, value = first.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    path = default_path(request_path)
    expires: float | None = None
    expires_raw: str | None = None
    max_age: float | None = None
    for attr in attrs:
        key, _, val = attr.partition("=")
        key, val = key.strip().lower(), val.strip()
        if key == "path" and val.startswith("/"):
            path = val
        elif key == "max-age":
            try:
                max_age = float(int(val))
            except ValueError:
                continue
        elif key == "expires":
            expires_raw = val
    if max_age is not None:                     # Max-Age wins over Expires (which is then not parsed)
        expires = now + max_age if max_age > 0 else now
    elif expires_raw is not None:
        expires = _http_date(expires_raw)
    return Cookie(name, value, path, expires)


@lru_cache(maxsize=256)
def _http_date(value: str) -> float | None:
    """An Expires date as Unix time; None (a session cookie) when it does not parse.

    Memoised: a portal stamps the same few dates (to the second) on many responses, and
    `parsedate_to_datetime` was ~2 % of the load generator's CPU."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class OneOriginJar:
    """Cookies of one origin; the interface geventhttpclient's UserAgent calls, plus a block list."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str], Cookie] = {}
        self.allowed: frozenset[str] | None = None        # None: all cookies; else only these names

    # ---- what geventhttpclient calls --------------------------------------------------------
    def add_cookie_header(self, request: Any) -> None:
        if not self._cookies:
            return
        path = request.url_split.path or "/"
        now = time.time()
        live = [c for c in self._cookies.values()
                if (c.expires is None or c.expires > now) and path_matches(path, c.path)]
        if live:
            live.sort(key=lambda c: -len(c.path))             # longer paths first, as browsers send them
            request.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in live)

    def extract_cookies(self, response: Any, request: Any) -> None:
        headers = response.headers
        values = headers.getlist("set-cookie") if headers is not None else []
        if not values:
            return
        now = time.time()
        path = request.url_split.path or "/"
        for raw in values:
            cookie = parse_set_cookie(raw, path, now)
            if cookie is None:
                continue
            key = (cookie.name, cookie.path)
            if cookie.expires is not None and cookie.expires <= now:
                self._cookies.pop(key, None)
            elif self.allowed is None or cookie.name in self.allowed:
                self._cookies[key] = cookie

    # ---- what the simulated browser does ----------------------------------------------------
    def set_cookie(self, cookie: Cookie) -> None:
        self._cookies[(cookie.name, cookie.path)] = cookie

    def clear(self) -> None:
        self._cookies.clear()

    def names(self) -> list[str]:
        return sorted({name for name, _path in self._cookies})

    def __iter__(self) -> Any:
        return iter(list(self._cookies.values()))

    def __len__(self) -> int:
        return len(self._cookies)
