"""Outbound mail: retry after 4xx, permanent 5xx, expiry, and delivery after kill -9."""

from __future__ import annotations

from portal_testkit import Browser, closed_port, ref_of


def attempts_of(portal, outbox_id: int = 1) -> list[dict]:
    return [e for e in portal.events() if e["event"] == "email_attempt" and e["outbox_id"] == outbox_id]


def login(portal, acct) -> Browser:
    b = Browser(portal.url)
    assert b.login(acct["username"], acct["password"]).status_code == 303
    return b


def test_tempfail_is_retried(sink, portal_factory):
    portal = portal_factory(sink.port, "--time-scale", "20")
    sink.handler.replies = ["451 4.3.0 try again later"]
    acct = portal.accounts("agency")[0]
    login(portal, acct)
    sink.wait_code(acct["notification_email"])
    portal.wait_event(lambda e: e["event"] == "email_sent")
    results = [(a["attempt"], a["result"], a["smtp_code"]) for a in attempts_of(portal)]
    assert results == [(1, "tempfail", 451), (2, "sent", 250)]


def test_permanent_failure_is_not_retried(sink, portal_factory):
    portal = portal_factory(sink.port, "--time-scale", "20")
    sink.handler.replies = ["550 5.1.1 no such mailbox"]
    acct = portal.accounts("agency")[0]
    login(portal, acct)
    failed = portal.wait_event(lambda e: e["event"] == "email_failed")
    assert failed["reason"] == "permanent"
    assert [a["result"] for a in attempts_of(portal)] == ["permfail"]
    assert sink.count() == 0


def test_unreachable_smtp_gives_up_when_the_code_expires(portal_factory):
    portal = portal_factory(closed_port(), "--time-scale", "100")
    acct = portal.accounts("agency")[0]
    login(portal, acct)
    failed = portal.wait_event(lambda e: e["event"] == "email_failed", timeout=60)
    assert failed["reason"] == "expired"
    attempts = attempts_of(portal)
    assert len(attempts) >= 2 and {a["result"] for a in attempts} == {"error"}
    issued = [e for e in portal.events() if e["event"] == "code_issued"][0]
    assert attempts[-1]["st"] <= issued["expires_at"]


def test_kill9_and_restart_sends_the_queued_mail(sink, portal_factory, tmp_path):
    db = str(tmp_path / "durable.db")
    first = portal_factory(closed_port(), db=db)
    acct = first.accounts("agency")[0]
    b = login(first, acct)
    ref = ref_of(b.get("/partner/verify"))
    first.wait_event(lambda e: e["event"] == "email_attempt")
    first.kill9()
    second = portal_factory(sink.port, db=db)
    code, msg = sink.wait_code(acct["notification_email"], ref, timeout=60)
    sent = second.wait_event(lambda e: e["event"] == "email_sent")
    assert sent["outbox_id"] == 1 and sent["message_id"] == msg["Message-ID"]
    # the pending login survived the crash too
    b.base = second.url
    assert b.verify(code).status_code == 303
    assert b.get("/partner/account").status_code == 200
