"""End-to-end: partner login, emailed code, verify, account page."""

from __future__ import annotations

from portal_testkit import Browser, page_of


def test_partner_login_code_verify_account(portal, sink):
    partner = portal.accounts("agency")[0]
    b = Browser(portal.url)
    r = b.login(partner["username"], partner["password"])
    assert r.status_code == 303 and r.headers["Location"] == "/partner/verify?c=1"
    r = b.get("/partner/verify?c=1")
    assert page_of(r) == "partner-verify"
    code, msg = sink.wait_code(partner["notification_email"])
    r = b.verify(code)
    assert r.status_code == 303 and r.headers["Location"] == "/partner/account"
    r = b.get("/partner/account")
    assert r.status_code == 200 and page_of(r) == "partner-account"
