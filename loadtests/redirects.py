"""Redirect chains followed by hand, and the two ways a login loop shows itself.

Each hop of a chain is recorded, so a history line can show exactly where a browser was sent.
A loop is (1) a chain that visits the same URL twice (a form post redirected once straight back
to its own URL is the form shown again, not a visit) or runs past the hop limit, or (2) a
return to the login form within a window after a successful verify (the user typed a good
code and was sent back to sign in). Pure code: the portal client feeds it URLs and times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

MAX_HOPS = 10
# A path on this origin with nothing urllib would rewrite: no second leading slash (a host), no
# fragment, no tab or line break (removed by urlsplit); for `resolve` also no dot segment and no
# `;` (urljoin resolves the one and splits parameters at the other).
# Such a URL is its own answer; `resolve` and `path_only` are per request, and urllib's general
# parse of the same string cost several times more (profiled).
_PLAIN = re.compile(r"(/(?!/)[^?#\t\r\n]*)(?:\?([^#\t\r\n]*))?\Z")


def resolve(current: str, location: str) -> str:
    """The path (with query) a `Location` header points to, relative to `current`.

    Redirects to another origin keep their full URL, so the client can refuse to follow them.
    """
    plain = _PLAIN.match(location)
    if plain is not None and "/." not in plain.group(1) and ";" not in plain.group(1):
        path, query = plain.groups()
        return f"{path}?{query}" if query else path
    target = urljoin(current, location)
    parts = urlsplit(target)
    cur = urlsplit(current)
    if parts.netloc and cur.netloc and parts.netloc != cur.netloc:
        return target
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def path_only(url: str) -> str:
    """`/partner/verify?c=1` -> `/partner/verify`."""
    plain = _PLAIN.match(url)
    if plain is not None:
        return plain.group(1)
    return urlsplit(url).path or "/"


@dataclass
class Chain:
    """The URLs one request visited: the first request's URL, then every redirect target."""

    urls: list[str] = field(default_factory=list)
    revisited: str | None = None

    def add(self, url: str, form_again: bool = False) -> bool:
        """Record a hop; True when it revisits a URL already in the chain (a loop).

        `form_again`: the hop is a form post's first redirect straight back to the URL it posted to
        (post/redirect/get: the form shown again, e.g. with "Failed to send code"), which is not a
        revisit; a cycle through other URLs back to it, or any later return, still is.
        """
        if url in self.urls and self.revisited is None and not (form_again and self.urls == [url]):
            self.revisited = url
        self.urls.append(url)
        return self.revisited is not None

    @property
    def too_long(self) -> bool:
        return len(self.urls) > MAX_HOPS

    @property
    def looped(self) -> bool:
        return self.revisited is not None or self.too_long


@dataclass
class LoopWatch:
    """Remembers the last successful verify; a login form seen soon after it is a loop."""

    window_s: float
    verified_at: float | None = None

    def verified(self, wall: float) -> None:
        self.verified_at = wall

    def reset(self) -> None:
        self.verified_at = None

    def back_at_login(self, wall: float) -> bool:
        """Called when a response shows the login form at wall time `wall`."""
        return self.verified_at is not None and 0 <= wall - self.verified_at <= self.window_s
