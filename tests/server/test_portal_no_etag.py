"""Pages carry no ETag: each holds a fresh `_xsrf` token and is `no-store`, so hashing it is waste."""

from __future__ import annotations

from tornado.testing import AsyncHTTPTestCase

from mfa_harness.server.app import make_app
from mfa_harness.server.clock import ScenarioClock
from mfa_harness.server.passwords import Passwords
from mfa_harness.server.policy import Policy
from mfa_harness.server.portal import Portal
from mfa_harness.server.storage import Store


class NoEtag(AsyncHTTPTestCase):
    def get_app(self):
        store = Store(":memory:")
        store.attach_clock(ScenarioClock(0.0, 1.0, store.clock_offset))
        portal = Portal(store, store.clock, Policy(), Passwords("cheap", workers=1), None, frozenset(),
                        b"k" * 32, harness=False)
        return make_app(portal, "secret" * 8, harness_mode=False)

    def test_pages_have_no_etag(self):
        for path in ("/", "/partner/login", "/affiliate/login"):
            r = self.fetch(path)
            assert r.code == 200 and "Etag" not in r.headers, (path, dict(r.headers))
            assert r.headers["Cache-Control"] == "no-store"
