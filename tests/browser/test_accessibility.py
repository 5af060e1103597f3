"""Issue 7's "pages a person would be happy to use", checked in the DOM of a real browser: every
field labelled, the code field made for one-time codes, errors visible as alerts, the code's
remaining validity shown, and not one request leaving 127.0.0.1 (everything served locally)."""

from __future__ import annotations

import re

from browser_kit import expect_page, not_loopback, page_problems
from playwright.sync_api import Page, expect

from mfa_harness.scenarios.browser import Inbox


def _visit(page: Page, url: str, name: str, shots, problems: list[str]) -> None:
    page.goto(url)
    expect_page(page, name)
    shots.take(page, name)
    problems += page_problems(page)


def _expect_alert(page: Page, reason: str) -> None:
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("data-reason", reason)
    expect(alert).not_to_have_text("")


def test_portal_pages_are_labelled_show_errors_and_stay_local(mfa_stack, browsing, shots):
    portal = mfa_stack.portal_url
    user = mfa_stack.accounts_of("reseller")[0]
    page = browsing.new_page()
    problems: list[str] = []

    _visit(page, portal + "/", "chooser", shots, problems)
    _visit(page, portal + "/affiliate/login", "affiliate-login", shots, problems)
    _visit(page, portal + "/partner/forgot-password", "forgot-password", shots, problems)
    _visit(page, portal + "/partner/reset-password?token=not-a-token", "reset-password", shots, problems)
    _expect_alert(page, "bad_token")
    _visit(page, portal + "/no-such-page", "error", shots, problems)

    _visit(page, portal + "/partner/login", "partner-login", shots, problems)
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect_page(page, "partner-login")
    _expect_alert(page, "generic_login")
    shots.take(page, "partner-login-error")
    problems += page_problems(page)

    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect_page(page, "partner-verify")
    code_input = page.get_by_label("Verification code")
    expect(code_input).to_have_attribute("autocomplete", "one-time-code")
    expect(code_input).to_have_attribute("inputmode", "numeric")
    expect(page.locator("[data-expires-in]")).to_have_text(re.compile(r"\d+ min \d+ s"))
    problems += page_problems(page)

    ref = page.locator("[data-ref]").get_attribute("data-ref")
    code = Inbox(mfa_stack.inbox_url).wait_code(user["notification_email"], ref=ref)
    code_input.fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Verify").click()
    expect_page(page, "partner-verify")
    _expect_alert(page, "wrong")
    shots.take(page, "partner-verify-wrong-code")
    problems += page_problems(page)

    page.get_by_label("Verification code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect_page(page, "partner-account")
    shots.take(page, "partner-account")
    problems += page_problems(page)
    page.get_by_role("link", name="My account").click()
    expect_page(page, "my-account")
    shots.take(page, "my-account")
    problems += page_problems(page)

    assert problems == [], "\n".join(problems)
    assert not_loopback(browsing.requests) == []
    assert browsing.requests, "the request recorder saw nothing"


def test_inbox_pages_are_labelled_and_stay_local(mfa_stack, browsing, person, shots):
    user = mfa_stack.accounts_of("agency")[0]
    portal = browsing.new_page()
    ref = person.sign_in_partner(portal, user)
    page = browsing.new_page()
    problems: list[str] = []

    person.read_code_in_inbox(page, user, ref, messages_for_address=1)
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    problems += page_problems(page)
    page.get_by_role("link", name="back").click()
    expect_page(page, "inbox")
    expect(page.locator("table tbody tr")).to_have_count(1)
    shots.take(page, "inbox-list")
    problems += page_problems(page)
    page.get_by_role("link", name="spam").click()
    expect_page(page, "inbox")
    expect(page.locator("table tbody tr")).to_have_count(0)
    shots.take(page, "spam-folder")
    problems += page_problems(page)

    assert not_loopback(browsing.requests) == []
    assert problems == [], "\n".join(problems)
