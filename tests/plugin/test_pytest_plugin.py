"""The pytest plugin's fixtures, used as a developer would (this file is the README's example)."""

from __future__ import annotations

import pytest


def test_teammates_code_arrives_first_in_shared_inbox(mfa_stack, inbox):
    alice, bob = mfa_stack.team(2)                     # two agency members, one notification address
    a, b = mfa_stack.browser(), mfa_stack.browser()
    ref_a = a.login(alice["username"], alice["password"]).ref
    code_a = inbox.wait_code(alice["notification_email"], ref=ref_a)
    ref_b = b.login(bob["username"], bob["password"]).ref
    code_b = inbox.wait_code(bob["notification_email"], ref=ref_b)    # Bob's code is now the newest
    assert a.verify(code_b).reason == "wrong"          # Alice types her teammate's code: refused
    assert a.verify(code_a).page == "partner-account"  # her own code still opens her login
    assert b.verify(code_b).page == "partner-account"


def test_clock_fixture_expires_a_code(mfa_stack, portal, inbox, clock):
    user = mfa_stack.accounts_of("reseller")[0]
    ref = portal.login(user["username"], user["password"]).ref
    code = inbox.wait_code(user["notification_email"], ref=ref)
    clock.advance(301)
    assert portal.verify(code).reason == "expired"
    assert portal.account().page != "partner-account"


@pytest.mark.mfa_bugs("code-not-bound")
def test_marker_plants_a_bug(mfa_stack, inbox):
    alice, bob = mfa_stack.team(2)
    a, b = mfa_stack.browser(), mfa_stack.browser()
    ref_a = a.login(alice["username"], alice["password"]).ref
    inbox.wait_code(alice["notification_email"], ref=ref_a)
    ref_b = b.login(bob["username"], bob["password"]).ref
    code_b = inbox.wait_code(bob["notification_email"], ref=ref_b)
    # With the planted bug, a code opens any login attempt of the same account: Bob's code from
    # his first attempt opens a second one (the correct portal answers "wrong").
    b2 = mfa_stack.browser()
    b2.login(bob["username"], bob["password"])
    assert b2.verify(code_b).page == "partner-account"
    events = [e["event"] for e in mfa_stack.events()]
    assert "portal_started" in events


@pytest.mark.mfa_policy(max_codes_per_challenge=2)
def test_policy_marker(mfa_stack, portal, clock):
    user = mfa_stack.accounts_of("reseller")[0]
    portal.login(user["username"], user["password"])   # code 1
    assert portal.resend().reason == "rate_limited"     # within the 30 s cooldown
    clock.advance(31)
    assert portal.resend().reason is None               # code 2
    clock.advance(31)
    assert portal.resend().reason == "rate_limited"     # the policy's cap of 2 codes
