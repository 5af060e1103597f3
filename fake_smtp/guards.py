"""The inbox's HTTP guards, which every handler inherits (issue 13, items 7 and 8).

The inbox holds every verification code of a run, so a browser must never be able to run a
test email's script on its origin, and a web page elsewhere must not reach the API by
rebinding its DNS name to 127.0.0.1.  Kept apart from the API handlers so the policy is in
one place.
"""

from __future__ import annotations

import tornado.web

# Every answer forbids what a browser could do with it: nothing loads, nothing frames it, and
# ``sandbox`` gives any HTML served here (a mail's part, /view) an opaque origin without
# scripts, so a test email can never read other codes through the API (issue 13, item 7).
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class GuardedHandler(tornado.web.RequestHandler):
    """Security headers on every answer (also errors: Tornado's ``clear`` calls
    ``set_default_headers`` again), the Host check before any handler runs, and ``Allow``."""

    csp = API_CSP
    host_refused = False   # prepare() answered 421 already: subclasses' prepare must not answer again

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", self.csp)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def prepare(self) -> None:
        """Refuse a Host that is not this inbox's own loopback name: a page on another origin
        that rebinds its DNS name to 127.0.0.1 must not read the codes (issue 13, item 8)."""
        host = (self.request.headers.get("Host") or "").strip().lower()
        if host not in self.own_hosts():
            self.host_refused = True
            self.set_status(421)
            self.finish(f"Host {host!r} is not this inbox; use one of {', '.join(self.own_hosts())}\n")

    def own_hosts(self) -> tuple[str, ...]:
        """``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` and the configured host, for the
        port this request arrived on (without the port too when it is 80, as browsers send it)."""
        try:
            port = self.request.connection.stream.socket.getsockname()[1]  # type: ignore[union-attr]
        except (AttributeError, OSError):  # the client is already gone: nothing to answer
            return ()
        configured = str(getattr(self.settings.get("ctx"), "http_host", "") or "").lower()  # --http-host
        names = [*LOOPBACK_NAMES, configured] if configured and configured not in LOOPBACK_NAMES else [
            *LOOPBACK_NAMES]
        hosts = [f"{n}:{port}" for n in names]
        return tuple(hosts + names) if port == 80 else tuple(hosts)

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler implements (for ``Allow``)."""
        base = tornado.web.RequestHandler
        return [m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
                if getattr(cls, m.lower()) is not getattr(base, m.lower())]
