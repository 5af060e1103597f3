"""Unit tests of the pure MFA state machine (server/challenge.py) with explicit times."""

from __future__ import annotations

import dataclasses

import pytest

from mfa_harness.server.challenge import (
    ChallengeState,
    CodeState,
    decide_resend,
    decide_verify,
    login_retry_after,
    sanitize_next,
)
from mfa_harness.server.policy import Policy

P = Policy()
KEEP = dataclasses.replace(P, resend="keep")


def challenge(**kw) -> ChallengeState:
    base = {"id": 1, "partner_id": 9, "expires_at": 600.0}
    base.update(kw)
    return ChallengeState(**base)


def code(cid: int = 1, issued: float = 0.0, **kw) -> CodeState:
    return CodeState(id=cid, challenge_id=kw.pop("challenge_id", 1), issued_at=issued, expires_at=issued + 300.0, **kw)


@pytest.mark.parametrize("elapsed, ok", [(0.0, True), (299.0, True), (301.0, False)])
def test_code_lifetime_boundaries_4_59_and_5_01(elapsed, ok):
    d = decide_verify(challenge(), [code()], elapsed, P)
    assert d.ok is ok
    if not ok:
        assert d.reason == "expired" and d.code_id == 1 and not d.count_wrong


def test_pending_login_lifetime_kills_the_challenge():
    d = decide_verify(challenge(expires_at=600.0), [code(issued=590.0)], 600.5, P)
    assert (d.ok, d.reason, d.kill) == (False, "challenge_dead", True)


def test_wrong_codes_count_and_the_fifth_kills():
    reasons = []
    attempts = 0
    for _ in range(5):
        d = decide_verify(challenge(wrong_attempts=attempts), [], 10.0, P)
        reasons.append(d.reason)
        attempts += d.count_wrong
    assert reasons == ["wrong"] * 4 + ["too_many"]
    assert d.kill
    # once dead, even the right code is refused
    assert decide_verify(challenge(wrong_attempts=5), [code()], 10.0, P).reason == "too_many"
    assert decide_verify(challenge(status="dead"), [code()], 10.0, P).reason == "too_many"


def test_used_voided_and_done():
    assert decide_verify(challenge(), [code(used=True)], 10.0, P).reason == "used"
    v = decide_verify(challenge(), [code(voided=True)], 10.0, P)
    assert (v.reason, v.count_wrong, v.code_id) == ("wrong", True, 1)
    v = decide_verify(challenge(wrong_attempts=4), [code(voided=True)], 10.0, P)
    assert (v.reason, v.kill) == ("too_many", True)
    assert not decide_verify(challenge(), [code(used=True)], 10.0, P).count_wrong
    assert not decide_verify(challenge(), [code()], 400.0, P).count_wrong
    assert decide_verify(challenge(status="done"), [code()], 10.0, P).reason == "no_challenge"


def test_newest_usable_match_wins():
    d = decide_verify(challenge(), [code(1, 0.0, voided=True), code(2, 40.0)], 50.0, P)
    assert d.ok and d.code_id == 2


@pytest.mark.parametrize("bug, at, ok", [
    ("no-expiry", 10_000.0 - 9_500.0 + 299.0, True),
    ("expiry-off-by-minutes", 470.0, True),
    ("expiry-off-by-minutes", 490.0, False),
    ("early-expiry", 61.0, False),
    ("early-expiry", 59.0, True),
])
def test_expiry_bugs_change_the_boundary(bug, at, ok):
    ch = challenge(expires_at=10_000.0)
    assert decide_verify(ch, [code()], at, P, frozenset({bug})).ok is ok
    if bug == "early-expiry" or (bug == "expiry-off-by-minutes" and ok):
        assert decide_verify(ch, [code()], at, P).ok is (at < 300)


def test_no_attempt_limit_bug():
    d = decide_verify(challenge(wrong_attempts=50), [], 10.0, P, frozenset({"no-attempt-limit"}))
    assert (d.reason, d.kill) == ("wrong", False)
    assert decide_verify(challenge(wrong_attempts=50), [code()], 10.0, P, frozenset({"no-attempt-limit"})).ok


def test_resend_cooldown_then_allowed():
    ch = challenge()
    d = decide_resend(ch, [0.0], [0.0], 29.0, P)
    assert (d.allowed, d.reason) == (False, "cooldown") and d.retry_after == pytest.approx(1.0)
    d = decide_resend(ch, [0.0], [0.0], 30.0, P)
    assert d.allowed and d.void_older and (d.codes_in_challenge, d.codes_in_hour) == (2, 2)


def test_resend_keep_policy_does_not_void():
    d = decide_resend(challenge(), [0.0], [0.0], 31.0, KEEP)
    assert d.allowed and not d.void_older


def test_keep_policy_older_code_still_opens_but_attempts_stay_per_challenge():
    older, newer = code(1, 0.0), code(2, 31.0)
    assert decide_verify(challenge(), [older], 100.0, KEEP).code_id == 1
    assert decide_verify(challenge(wrong_attempts=5), [newer], 100.0, KEEP).reason == "too_many"


def test_resend_challenge_cap():
    times = [0.0, 30.0, 60.0, 90.0, 120.0]
    d = decide_resend(challenge(), times, times, 200.0, P)
    assert (d.allowed, d.reason) == (False, "challenge_cap")
    assert d.retry_after == pytest.approx(400.0)


def test_resend_account_cap_over_an_hour():
    account = [100.0 * i for i in range(10)]  # 10 codes in the last hour, other challenges
    d = decide_resend(challenge(expires_at=5000.0), [900.0], account, 1000.0, P)
    assert (d.allowed, d.reason) == (False, "account_cap")
    assert d.retry_after == pytest.approx(0.0 + 3600.0 - 1000.0)
    later = decide_resend(challenge(expires_at=5000.0), [900.0], account, 3600.5, P)
    assert later.allowed


def test_resend_on_dead_or_expired_challenge():
    assert decide_resend(challenge(status="dead"), [0.0], [0.0], 100.0, P).reason == "challenge_dead"
    assert decide_resend(challenge(), [0.0], [0.0], 600.0, P).reason == "challenge_dead"


def test_no_resend_limit_bug():
    times = [float(i) for i in range(20)]
    assert decide_resend(challenge(), times, times, 20.0, P, frozenset({"no-resend-limit"})).allowed


def test_login_backoff():
    assert login_retry_after(4, 0.0, 0.0, P) == 0.0
    assert login_retry_after(5, 10.0, 11.0, P) == pytest.approx(1.0)
    assert login_retry_after(7, 10.0, 10.0, P) == pytest.approx(8.0)
    assert login_retry_after(40, 10.0, 10.0, P) == pytest.approx(300.0)
    assert login_retry_after(7, 10.0, 100.0, P) == 0.0


@pytest.mark.parametrize("target, expected", [
    ("/partner/my-account", "/partner/my-account"),
    ("//evil.example", "/partner/account"),
    ("/\\evil.example", "/partner/account"),
    ("https://evil.example/", "/partner/account"),
    ("/partner/login", "/partner/account"),
    ("/partner/verify?x=1", "/partner/account"),
    ("/partner/account\r\nSet-Cookie: x=1", "/partner/account"),
    (None, "/partner/account"),
])
def test_sanitize_next(target, expected):
    assert sanitize_next(target) == expected


def test_expired_challenge_stays_expired():
    assert decide_verify(challenge(status="expired"), [code()], 10.0, P).reason == "challenge_dead"
