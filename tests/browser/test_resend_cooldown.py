"""The "Send another code" button in a real browser: its cooldown is shown, and a refused resend
tells the person how long to wait (issue 7, "a resend button that shows its cooldown")."""

from __future__ import annotations

from browser_kit import expect_page, seconds_shown
from playwright.sync_api import Page, expect

RESEND_FORM = "form[action='/partner/verify/resend']"
COOLDOWN = 30  # scenario s, the product's policy; mfa_stack runs at time scale 1


def press_resend(page: Page) -> None:
    """Press "Send another code". A page may show the cooldown by disabling the button; the
    portal must still refuse a resend submitted anyway (double click, second tab), so submit the
    form then."""
    button = page.locator(RESEND_FORM).get_by_role("button", name="Send another code")
    expect(button).to_be_visible()
    if button.is_enabled():
        button.click()
    else:
        page.locator(RESEND_FORM).evaluate("form => form.requestSubmit()")


def test_resend_button_shows_its_cooldown(mfa_stack, browsing, person, shots, mfa_clock):
    user = mfa_stack.accounts_of("reseller")[0]
    page = browsing.new_page()
    person.sign_in_partner(page, user)  # a code was just sent: the cooldown runs
    form = page.locator(RESEND_FORM)
    expect(form).to_be_visible()
    during = form.inner_text()
    shots.take(page, "resend-during-cooldown")

    mfa_clock.advance(COOLDOWN + 1)
    page.reload()
    expect_page(page, "partner-verify")
    after = form.inner_text()
    shots.take(page, "resend-after-cooldown")
    button = form.get_by_role("button", name="Send another code")
    expect(button).to_be_enabled()
    button.click()
    expect_page(page, "partner-verify")
    expect(page.get_by_role("alert")).to_have_count(0)
    shots.take(page, "resend-accepted")
    assert [e["event"] for e in mfa_stack.events() if e["event"].startswith("resend_")] == ["resend_allowed"]

    shown = seconds_shown(during)
    assert shown is not None and 0 < shown <= COOLDOWN, (
        f"right after a code was sent, the resend form should show its cooldown (e.g. 'available in "
        f"{COOLDOWN} s'); it shows {during!r}")
    assert seconds_shown(after) is None, f"the cooldown is over, yet the resend form shows a wait: {after!r}"


def test_resend_inside_cooldown_shows_rate_limited_with_retry_time(mfa_stack, browsing, person, shots, mfa_clock):
    user = mfa_stack.accounts_of("reseller")[0]
    page = browsing.new_page()
    ref = person.sign_in_partner(page, user)

    mfa_clock.advance(COOLDOWN + 1)
    press_resend(page)  # allowed: a second code, a new cooldown starts
    expect_page(page, "partner-verify")
    expect(page.get_by_role("alert")).to_have_count(0)

    with page.expect_response(lambda r: r.url.endswith("/partner/verify/resend")
                              and r.request.method == "POST") as answer:
        press_resend(page)  # inside the new cooldown: refused
    response = answer.value
    assert response.status == 429
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= COOLDOWN
    expect_page(page, "partner-verify")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("data-reason", "rate_limited")
    message = alert.inner_text()
    shots.take(page, "resend-rate-limited")
    refused = [e for e in mfa_stack.events() if e["event"] == "resend_refused"]
    assert [e["reason"] for e in refused] == ["cooldown"]

    # The resent code (the newest email) still opens the account: the refusal voided nothing.
    code = person.read_code_in_inbox(browsing.new_page(), user, ref, messages_for_address=2)
    person.enter_code(page, code)
    expect_page(page, "partner-account")
    shots.take(page, "account-with-resent-code")

    shown = seconds_shown(message)
    assert shown is not None and abs(shown - retry_after) <= 2, (
        f"the rate-limited message should tell when to try again (Retry-After is {retry_after} s); "
        f"it says {message!r}")
