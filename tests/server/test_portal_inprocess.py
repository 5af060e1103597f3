"""In-process checks that need control over the client address: harness endpoints are loopback-only."""

from __future__ import annotations

import json

from tornado.testing import AsyncHTTPTestCase

from mfa_harness.server.app import make_app
from mfa_harness.server.clock import ScenarioClock
from mfa_harness.server.passwords import Passwords
from mfa_harness.server.policy import Policy
from mfa_harness.server.portal import Portal
from mfa_harness.server.seeding import seed_accounts
from mfa_harness.server.storage import Store


class HarnessLoopbackOnly(AsyncHTTPTestCase):
    def get_app(self):
        store = Store(":memory:")
        store.attach_clock(ScenarioClock(0.0, 1.0, store.clock_offset))
        passwords = Passwords("cheap", workers=1)
        seed_accounts(store, passwords, 4, 3)
        portal = Portal(store, store.clock, Policy(), passwords, None, frozenset(), b"k" * 32, harness=True)
        return make_app(portal, "secret" * 8, harness_mode=True)

    def get_httpserver_options(self):
        return {"xheaders": True}  # lets the test present a non-loopback client address

    def test_non_loopback_client_is_refused(self):
        far = self.fetch("/_harness/accounts", headers={"X-Real-IP": "203.0.113.9"})
        assert far.code == 403
        far_post = self.fetch("/_harness/clock", method="POST", body=json.dumps({"advance": 5}),
                              headers={"X-Real-IP": "203.0.113.9"})
        assert far_post.code == 403
        near = self.fetch("/_harness/accounts")
        assert near.code == 200 and len(json.loads(near.body)) == 4
        assert self.fetch("/_harness/clock", method="POST", body=json.dumps({"advance": 5})).code == 200
        for path in ("/_harness/lock", "/_harness/unlock", "/_harness/notification-email"):
            far_support = self.fetch(path, method="POST", body=json.dumps({"partner_id": 1, "address": "x@y.example"}),
                                     headers={"X-Real-IP": "203.0.113.9"})
            assert far_support.code == 403
        assert not any(a["locked"] for a in json.loads(self.fetch("/_harness/accounts").body))
        assert self.fetch("/_harness/lock", method="POST", body=json.dumps({"partner_id": 1})).code == 200

    def test_bad_clock_requests(self):
        for body in ["not json", json.dumps({"advance": "soon"}), json.dumps([1]), json.dumps({"advance": True})]:
            assert self.fetch("/_harness/clock", method="POST", body=body).code == 400
