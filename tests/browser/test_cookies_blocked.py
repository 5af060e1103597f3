"""The login-loop breaker in a real browser: when cookies do not come back, the person lands on
the cookies-blocked page that says what to do, instead of going round between sign-in pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from browser_kit import expect_page
from playwright.sync_api import Request, Route, expect


def _documents(requests: list[Request]) -> list[str]:
    return [f"{r.method} {urlsplit(r.url).path}" for r in requests if r.resource_type == "document"]


def _assert_breaker_page(page, shots) -> None:
    expect_page(page, "cookies-blocked")
    expect(page.get_by_role("heading", name="Cookies are blocked")).to_be_visible()
    expect(page.get_by_text("allow cookies")).to_be_visible()
    expect(page.get_by_role("link", name="sign in again")).to_have_attribute("href", "/partner/login")
    shots.take(page, "cookies-blocked-page")


def test_chromium_blocking_all_cookies_ends_on_cookies_blocked_page(
        mfa_stack, cookies_blocked_browsing, person, shots):
    user = mfa_stack.team(2)[0]
    page = cookies_blocked_browsing.new_page()
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))

    person.submit_partner_sign_in(page, user)

    _assert_breaker_page(page, shots)
    assert cookies_blocked_browsing.context.cookies() == []  # the browser really kept none
    # One form post and its answer: no redirect chain between the sign-in pages.
    chain = _documents(requests)
    assert chain == ["GET /", "GET /partner/login", "POST /partner/login"], chain
    kinds = [e["event"] for e in mfa_stack.events()]
    assert "session_created" not in kinds and "code_issued" not in kinds, kinds


def test_pending_login_cookie_not_sent_back_ends_on_cookies_blocked_page(mfa_stack, browsing, person, shots):
    """The browser keeps the form's cookie but loses the pending-login cookie the sign-in sets
    (a cookie policy, an extension): the portal stops at its `?c=1` check."""
    user = mfa_stack.team(2)[0]
    context = browsing.context

    def drop_pending_cookie(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)  # the portal's 303, its cookies now in the context
        context.clear_cookies(name="pp_pending")
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "set-cookie"}
        route.fulfill(response=answer, headers=headers)

    context.route("**/partner/login", drop_pending_cookie)
    page = browsing.new_page()
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))

    person.submit_partner_sign_in(page, user)

    _assert_breaker_page(page, shots)
    assert urlsplit(page.url).path == "/partner/verify"
    # the pending cookie is gone; the device cookie the sign-in set stays (server/README.md, password throttling)
    assert sorted(c["name"] for c in context.cookies()) == ["_xsrf", "pp_device"]
    chain = _documents(requests)
    assert chain == ["GET /", "GET /partner/login", "POST /partner/login", "GET /partner/verify"], chain
    created = [e for e in mfa_stack.events() if e["event"] == "challenge_created"]
    assert len(created) == 1  # the sign-in itself went through, once
