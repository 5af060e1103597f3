"""A person signs in with a real Chromium: the agency code path, an expired code, an affiliate."""

from __future__ import annotations

import re

from browser_kit import expect_page, not_loopback
from playwright.sync_api import expect

from mfa_harness.scenarios.browser import Inbox


def test_agency_user_reads_code_in_inbox_page_and_reaches_account(mfa_stack, browsing, person, shots):
    alice, bob = mfa_stack.team(2)  # one shared notification address
    assert alice["notification_email"].lower() == bob["notification_email"].lower()
    # A teammate signed in a moment earlier: the shared inbox already holds his code.
    teammate = mfa_stack.browser()
    teammate_ref = teammate.login(bob["username"], bob["password"]).ref
    Inbox(mfa_stack.inbox_url).wait_code(bob["notification_email"], ref=teammate_ref)

    portal = browsing.new_page()
    ref = person.sign_in_partner(portal, alice)
    assert ref != teammate_ref
    validity = portal.locator("[data-expires-in]")
    expect(validity).to_be_visible()
    assert 200 < float(validity.get_attribute("data-expires-in") or 0) <= 300
    expect(validity).to_have_text(re.compile(r"\d+ min \d+ s"))

    inbox = browsing.new_page()  # a second tab, as a person would open their mail
    code = person.read_code_in_inbox(inbox, alice, ref, messages_for_address=2)
    person.enter_code(portal, code)

    expect_page(portal, "partner-account")
    assert portal.url.endswith("/partner/account")
    expect(portal.locator("[data-username]")).to_have_attribute("data-username", alice["username"])
    expect(portal.get_by_role("heading", name="Your partner account")).to_be_visible()
    shots.take(portal, "account-page")

    events = mfa_stack.events()
    ok = [e for e in events if e["event"] == "verify_ok" and e["partner_id"] == alice["partner_id"]]
    assert len(ok) == 1, events
    served = [e for e in events if e["event"] == "account_served" and e["partner_id"] == alice["partner_id"]]
    assert served and all(e["mfa"] for e in served)
    assert not_loopback(browsing.requests) == []


def test_code_typed_after_five_minutes_shows_expired_error(mfa_stack, browsing, person, shots, mfa_clock):
    user = mfa_stack.accounts_of("reseller")[0]
    portal = browsing.new_page()
    ref = person.sign_in_partner(portal, user)
    code = person.read_code_in_inbox(browsing.new_page(), user, ref, messages_for_address=1)

    mfa_clock.advance(301)  # the code lived 5 minutes; the pending login (10 minutes) is still open
    portal.bring_to_front()
    portal.reload()
    expect_page(portal, "partner-verify")
    expect(portal.locator("[data-expires-in]")).to_have_attribute("data-expires-in", "0")
    expect(portal.locator("[data-expires-in]")).to_contain_text("expired")
    shots.take(portal, "verify-page-after-5-minutes")

    person.enter_code(portal, code, step="expired-code-typed")
    expect_page(portal, "partner-verify")
    alert = portal.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("data-reason", "expired")
    expect(alert).to_contain_text("expired")
    shots.take(portal, "expired-error")

    portal.goto(mfa_stack.portal_url + "/partner/account")  # not signed in: back to the code page
    expect_page(portal, "partner-verify")
    fails = [e for e in mfa_stack.events() if e["event"] == "verify_fail"]
    assert [e["reason"] for e in fails] == ["expired"]


def test_affiliate_reaches_dashboard_without_code_page(mfa_stack, browsing, shots):
    user = mfa_stack.accounts_of("affiliate")[0]
    page = browsing.new_page()
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)

    page.goto(mfa_stack.portal_url + "/")
    expect_page(page, "chooser")
    page.get_by_role("link", name="Affiliate program").click()
    expect_page(page, "affiliate-login")
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Password").fill(user["password"])
    shots.take(page, "affiliate-login-filled")
    page.get_by_role("button", name="Sign in").click()

    expect_page(page, "affiliate-dashboard")
    expect(page.locator("[data-username]")).to_have_attribute("data-username", user["username"])
    shots.take(page, "affiliate-dashboard")
    assert page.url.endswith("/affiliate/dashboard")
    assert not [u for u in visited if "/partner/verify" in u], visited
    expect(page.get_by_label("Verification code")).to_have_count(0)

    events = [e for e in mfa_stack.events() if e.get("partner_id") == user["partner_id"]]
    kinds = [e["event"] for e in events]
    assert "affiliate_login" in kinds, kinds
    assert "challenge_created" not in kinds and "code_issued" not in kinds, kinds
    assert not_loopback(browsing.requests) == []
