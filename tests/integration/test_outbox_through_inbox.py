"""The portal's durable outbox against the real inbox's faults: an outage, then 451s, then delivery.

Both are the real processes; the inbox refuses connections for a window and then answers 451 at
RCPT for another, and the code must still arrive, with every attempt visible on both sides.
"""

from __future__ import annotations

import time
from pathlib import Path

from mfa_harness.harness_http import InboxApi, PortalHarness
from mfa_harness.scenarios.browser import Inbox, Portal
from mfa_harness.scenarios.runner import write_toml
from mfa_harness.scenarios.stack import LocalStack, StackConfig

SCALE = 10.0  # scenario seconds per wall second


def test_outbox_retries_through_outage_and_tempfail(tmp_path: Path) -> None:
    faults = write_toml(tmp_path / "faults.toml", {"seed": 3}, {"rules": [
        {"kind": "outage", "start": 0, "end": 40},
        {"kind": "tempfail", "stage": "rcpt", "code": 451, "start": 40, "end": 80},
    ]})
    stack = LocalStack(StackConfig(out=tmp_path, epoch=time.time(), time_scale=SCALE, seed=5, partners=6,
                                   faults_file=faults))
    try:
        stack.start()
        accounts = PortalHarness(stack.portal_url).accounts()
        user = next(a for a in accounts if a["program"] == "reseller")
        browser = Portal(stack.portal_url)
        page = browser.login(user["username"], user["password"])
        assert page.page == "partner-verify"
        code = Inbox(stack.inbox_url).wait_code(user["notification_email"], ref=page.ref, timeout=60)
        assert browser.verify(code).page == "partner-account"

        events = PortalHarness(stack.portal_url).all_events()
        attempts = [e for e in events if e["event"] == "email_attempt"]
        assert [a["result"] for a in attempts][-1] == "sent"
        assert any(a["result"] != "sent" for a in attempts), attempts  # retried through the faults
        assert sum(e["event"] == "email_sent" for e in events) == 1
        refused = [d for d in InboxApi(stack.inbox_url).all_deliveries() if d["event"] == "refused"]
        assert {d["fault"] for d in refused} == {"outage", "tempfail"}, refused
    finally:
        stack.stop()
