"""Integration: every page of the real portal process, with a local aiosmtpd sink."""

from __future__ import annotations

import re

import pytest
import requests
from portal_testkit import REF, Browser, body_text, page_of, reason_of, ref_of, sign_in, strip_volatile


def test_chooser_and_auth_headers(portal):
    b = Browser(portal.url)
    r = b.get("/")
    assert page_of(r) == "chooser"
    assert 'href="/partner/login"' in r.text and 'href="/affiliate/login"' in r.text
    for path, name in [("/partner/login", "partner-login"), ("/affiliate/login", "affiliate-login"),
                       ("/partner/forgot-password", "forgot-password")]:
        r = b.get(path)
        assert r.status_code == 200 and page_of(r) == name
        assert r.headers["Cache-Control"] == "no-store"
        assert 'name="_xsrf"' in r.text
    assert requests.get(portal.url + "/healthz", timeout=30).text == "ok"
    r = b.get("/nope")
    assert r.status_code == 404 and page_of(r) == "error"


def test_full_partner_flow_cookies_and_session_rotation(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, ref = sign_in(portal, sink, acct)
    pending_cookie = b.s.cookies.get("pp_pending")
    r = b.verify(code)
    assert r.status_code == 303 and r.headers["Location"] == "/partner/account"
    set_cookie = r.headers["Set-Cookie"]
    assert "pp_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Domain" not in set_cookie
    assert b.s.cookies.get("pp_pending") is None and b.s.cookies.get("pp_session") != pending_cookie
    r = b.get("/partner/account")
    assert r.status_code == 200 and page_of(r) == "partner-account" and acct["username"] in r.text
    # the old pending cookie does not open anything any more
    old = Browser(portal.url)
    old.s.cookies.set("pp_pending", pending_cookie)
    assert old.get("/partner/account").headers["Location"] == "/partner/login"
    events = portal.events()
    created = [e for e in events if e["event"] == "challenge_created"]
    assert created[-1]["ref"] == ref and created[-1]["program"] == "agency"
    issued = [e for e in events if e["event"] == "code_issued"][-1]
    assert issued["recipient"] == acct["notification_email"]
    session = [e for e in events if e["event"] == "session_created"][-1]
    assert session["mfa"] is True and len(session["session"]) == 12
    served = [e for e in events if e["event"] == "account_served"][-1]
    assert served["mfa"] is True and served["partner_id"] == acct["partner_id"]
    values = {str(v) for e in events for v in e.values()}
    assert code not in values and acct["password"] not in values
    assert not any(acct["password"] in v for v in values)


def test_email_content(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, ref = sign_in(portal, sink, acct)
    msg = sink.wait_code(acct["notification_email"], ref)[1]
    text = body_text(msg)
    assert msg["Subject"] == "Your Partner Portal verification code"
    assert f"Requested by: {acct['username']}" in text and REF.search(text).group(1) == ref
    assert "valid for 5 minutes" in text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert code in html
    issued = [e for e in portal.events() if e["event"] == "code_issued"][-1]
    assert issued["message_id"] == msg["Message-ID"]


def test_generic_login_error_is_identical(portal):
    agency = portal.accounts("agency")[0]
    affiliate = portal.accounts("affiliate")[0]
    locked = portal.accounts("reseller")[0]
    assert requests.post(portal.url + "/_harness/lock", json={"partner_id": locked["partner_id"]},
                         timeout=30).status_code == 200
    answers = []
    for user, pw in [("nobody@example.com", "whatever-123"), (agency["username"], "wrong-password"),
                     (affiliate["username"], affiliate["password"]), (locked["username"], locked["password"])]:
        r = Browser(portal.url).login(user, pw)
        answers.append((r.status_code, reason_of(r), strip_volatile(r.text)))
    assert answers[0] == answers[1] == answers[2] == answers[3]
    assert answers[0][:2] == (401, "generic_login")
    reasons = [e["reason"] for e in portal.events() if e["event"] == "login_failed"]
    assert reasons == ["unknown_user", "bad_password", "affiliate_on_partner", "locked"]


def test_wrong_codes_then_too_many(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    reasons = [reason_of(b.verify(wrong)) for _ in range(5)]
    assert reasons == ["wrong"] * 4 + ["too_many"]
    r = b.verify(code)
    assert r.status_code == 400 and reason_of(r) == "too_many"
    fails = [e for e in portal.events() if e["event"] == "verify_fail"]
    assert [e["attempts"] for e in fails][:5] == [1, 2, 3, 4, 5]


def test_expiry_on_the_scenario_clock(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    portal.advance(301)
    r = b.verify(code)
    assert r.status_code == 400 and reason_of(r) == "expired"
    b2, code2, _ = sign_in(portal, sink, portal.accounts("agency")[1])
    portal.advance(295)
    r = b2.verify(code2)
    assert r.status_code == 303
    assert [e["by"] for e in portal.events() if e["event"] == "clock_advanced"] == [301, 295]


def test_resend_cooldown_invalidate_and_caps(portal, sink):
    acct = portal.accounts("agency")[0]
    b, first, ref = sign_in(portal, sink, acct)
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    assert r.status_code == 429 and reason_of(r) == "rate_limited" and page_of(r) == "partner-verify"
    assert int(r.headers["Retry-After"]) >= 1 and float(r.headers["X-Retry-After-Scenario"]) > 0
    portal.advance(31)
    before = sink.count()
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    assert r.status_code == 303 and r.headers["Location"] == "/partner/verify"
    msg = sink.wait_for(lambda m: f"reference: {ref}" in body_text(m), start=before)
    second = re.search(r"code is: (\d{6})", body_text(msg)).group(1)
    if second != first:
        assert reason_of(b.verify(first)) == "wrong"
    for _ in range(3):
        portal.advance(31)
        assert b.post("/partner/verify/resend", xsrf_from="/partner/verify").status_code == 303
    portal.advance(31)
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    assert r.status_code == 429
    refused = [e for e in portal.events() if e["event"] == "resend_refused"]
    assert [e["reason"] for e in refused] == ["cooldown", "challenge_cap"]
    voided = [e for e in portal.events() if e["event"] == "code_voided"]
    assert voided and all(e["reason"] == "resend_invalidate" for e in voided)


def test_resend_keep_policy_keeps_older_code(sink, portal_factory, tmp_path):
    policy = tmp_path / "keep.toml"
    policy.write_text('resend = "keep"\nresend_cooldown = 1\n')
    portal = portal_factory(sink.port, "--policy", str(policy))
    acct = portal.accounts("agency")[0]
    b, first, ref = sign_in(portal, sink, acct)
    portal.advance(2)
    assert b.post("/partner/verify/resend", xsrf_from="/partner/verify").status_code == 303
    sink.wait_for(lambda m: f"reference: {ref}" in body_text(m) and first not in body_text(m))
    assert b.verify(first).status_code == 303
    assert not [e for e in portal.events() if e["event"] == "code_voided"]


def test_code_from_another_challenge_is_refused(portal, sink):
    acct = portal.accounts("agency")[0]
    a, code_a, ref_a = sign_in(portal, sink, acct)
    b, code_b, ref_b = sign_in(portal, sink, acct)
    assert ref_a != ref_b
    if code_a != code_b:
        r = b.verify(code_a)
        assert r.status_code == 400 and reason_of(r) == "wrong"
    assert a.verify(code_a).status_code == 303
    assert b.verify(code_b).status_code == 303


def test_account_page_access_rules(portal, sink):
    b = Browser(portal.url)
    assert b.get("/partner/account").headers["Location"] == "/partner/login"
    assert b.get("/partner/my-account").headers["Location"] == "/partner/login"
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    r = b.get("/partner/account")
    assert r.status_code == 303 and r.headers["Location"] == "/partner/verify"
    assert not [e for e in portal.events() if e["event"] == "account_served"]


def test_my_account_shows_address_and_changes_password(portal, sink):
    acct = portal.accounts("reseller")[0]
    b, code, _ = sign_in(portal, sink, acct)
    assert b.verify(code).status_code == 303
    r = b.get("/partner/my-account")
    assert page_of(r) == "my-account" and f'data-notification-email="{acct["notification_email"]}"' in r.text
    r = b.post("/partner/my-account", {"current_password": "not-it-at-all", "new_password": "another-password-1"})
    assert r.status_code == 400 and reason_of(r) == "bad_request"
    r = b.post("/partner/my-account", {"current_password": acct["password"], "new_password": "another-password-1"})
    assert r.status_code == 200 and "password was changed" in r.text
    assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 401
    assert Browser(portal.url).login(acct["username"], "another-password-1").status_code == 303
    assert [e["via"] for e in portal.events() if e["event"] == "password_changed"] == ["my_account"]


def test_forgot_and_reset_password(portal, sink):
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    r_unknown = b.post("/partner/forgot-password", {"username": "ghost@example.com"})
    r_known = b.post("/partner/forgot-password", {"username": acct["username"]})
    assert r_unknown.status_code == r_known.status_code == 200
    assert strip_volatile(r_unknown.text) == strip_volatile(r_known.text)
    msg = sink.wait_for(lambda m: m["Subject"] == "Reset your Partner Portal password")
    assert msg["To"] == acct["notification_email"]
    token = re.search(r"/partner/reset-password\?token=([A-Za-z0-9_-]+)", body_text(msg)).group(1)
    r = b.get(f"/partner/reset-password?token={token}")
    assert page_of(r) == "reset-password" and 'name="new_password"' in r.text
    r = b.post("/partner/reset-password", {"token": token, "new_password": "short"},
               xsrf_from=f"/partner/reset-password?token={token}")
    assert r.status_code == 400 and reason_of(r) == "bad_request"
    r = b.post("/partner/reset-password", {"token": token, "new_password": "brand-new-password"},
               xsrf_from=f"/partner/reset-password?token={token}")
    assert r.status_code == 303
    landed = b.get(r.headers["Location"])
    assert page_of(landed) == "partner-login" and "password was changed" in landed.text
    r = b.post("/partner/reset-password", {"token": token, "new_password": "brand-new-password-2"},
               xsrf_from="/partner/forgot-password")
    assert r.status_code == 400 and reason_of(r) == "bad_token"
    assert reason_of(b.get("/partner/reset-password?token=nonsense")) == "bad_token"
    # after the reset the user still has to pass MFA
    r = Browser(portal.url).login(acct["username"], "brand-new-password")
    assert r.status_code == 303 and r.headers["Location"].startswith("/partner/verify")
    reqs = [e for e in portal.events() if e["event"] == "reset_requested"]
    assert reqs[0]["partner_id"] is None and reqs[1]["partner_id"] == acct["partner_id"]


def test_affiliate_login_never_challenged(portal):
    aff = portal.accounts("affiliate")[0]
    b = Browser(portal.url)
    r = b.post("/affiliate/login", {"username": aff["username"], "password": aff["password"]})
    assert r.status_code == 303 and r.headers["Location"] == "/affiliate/dashboard"
    r = b.get("/affiliate/dashboard")
    assert page_of(r) == "affiliate-dashboard"
    partner = portal.accounts("agency")[0]
    r = Browser(portal.url).post("/affiliate/login", {"username": partner["username"], "password": partner["password"]})
    assert r.status_code == 401 and reason_of(r) == "generic_login"
    events = portal.events()
    assert [e for e in events if e["event"] == "affiliate_login"][0]["partner_id"] == aff["partner_id"]
    assert not [e for e in events if e["event"] == "challenge_created"]
    assert Browser(portal.url).get("/affiliate/dashboard").headers["Location"] == "/affiliate/login"


def test_logout(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    b.verify(code)
    r = b.post("/logout", xsrf_from="/partner/account")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert b.get("/partner/account").headers["Location"] == "/partner/login"


def test_next_is_sanitised(portal, sink):
    acct = portal.accounts("agency")[0]
    for target, landed in [("//evil.example", "/partner/account"), ("/partner/my-account", "/partner/my-account"),
                           ("https://evil.example/x", "/partner/account")]:
        b = Browser(portal.url)
        r = b.post("/partner/login", {"username": acct["username"], "password": acct["password"], "next": target})
        assert r.status_code == 303
        ref = ref_of(b.get("/partner/verify"))
        code, _ = sink.wait_code(acct["notification_email"], ref)
        r = b.verify(code)
        assert r.status_code == 303 and r.headers["Location"] == landed


def test_password_failures_are_throttled_per_account(sink, portal_factory, tmp_path):
    policy = tmp_path / "slow.toml"
    policy.write_text("login_backoff_base = 100\n")  # wide margin: no dependence on request speed
    portal = portal_factory(sink.port, "--policy", str(policy))
    acct = portal.accounts("agency")[0]
    for _ in range(6):
        assert Browser(portal.url).login(acct["username"], "wrong-password").status_code == 401
    # the right password is refused while the account is throttled, with the same generic answer
    r = Browser(portal.url).login(acct["username"], acct["password"])
    assert r.status_code == 401 and reason_of(r) == "generic_login"
    reasons = [e["reason"] for e in portal.events() if e["event"] == "login_failed"]
    assert reasons[:5] == ["bad_password"] * 5 and reasons[-1] == "throttled"
    portal.advance(150)
    assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303


def test_sigterm_stops_cleanly(sink, portal_factory):
    for processes in ("1", "2"):
        portal = portal_factory(sink.port, "--processes", processes)
        assert portal.stop() == 0


def test_pending_login_lifetime(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    portal.advance(601)
    for _ in range(2):
        r = b.verify(code)
        assert r.status_code == 400 and reason_of(r) == "expired"
    assert {e["reason"] for e in portal.events() if e["event"] == "verify_fail"} == {"challenge_dead"}
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    assert r.status_code == 400 and reason_of(r) == "expired"


def test_time_scale_and_epoch(sink, portal_factory):
    import time

    epoch = time.time() - 100.0
    portal = portal_factory(sink.port, "--time-scale", "10", "--epoch", repr(epoch))
    started = [e for e in portal.events() if e["event"] == "portal_started"][0]
    assert started["st"] == pytest.approx((started["wall"] - epoch) * 10, abs=0.01)
    assert started["st"] >= 1000.0
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    assert r.status_code in (303, 429)
    if r.status_code == 429:  # a slow machine may already be past the 3 wall-second cooldown
        assert int(r.headers["Retry-After"]) <= 3
        assert 0 < float(r.headers["X-Retry-After-Scenario"]) <= 30


def test_team_members_share_an_inbox_but_not_codes(portal, sink):
    team = [a for a in portal.accounts("agency") if a["team"] == portal.accounts("agency")[0]["team"]]
    assert len(team) >= 2 and team[0]["notification_email"] == team[1]["notification_email"]
    a, code_a, ref_a = sign_in(portal, sink, team[0])
    b, code_b, ref_b = sign_in(portal, sink, team[1])
    assert ref_a != ref_b
    if code_a != code_b:
        assert reason_of(b.verify(code_a)) == "wrong"
    assert b.verify(code_b).headers["Location"] == "/partner/account"
    assert a.verify(code_a).headers["Location"] == "/partner/account"


def test_verify_page_shows_the_resend_cooldown(portal, sink):
    acct = portal.accounts("reseller")[0]
    b, _, _ = sign_in(portal, sink, acct)
    form = b.get("/partner/verify").text.split('action="/partner/verify/resend"')[1]
    wait = re.search(r'data-resend-wait="(\d+)">Another code can be sent in (\d+) s', form)
    assert wait and 0 < int(wait.group(1)) <= 30 and wait.group(1) == wait.group(2)
    r = b.post("/partner/verify/resend", xsrf_from="/partner/verify")
    alert = re.search(r'role="alert" data-reason="rate_limited">Please wait (\d+) s', r.text)
    assert r.status_code == 429 and alert and abs(int(alert.group(1)) - int(r.headers["Retry-After"])) <= 1
    portal.advance(31)
    assert "data-resend-wait" not in b.get("/partner/verify").text
