"""Unit tests of the pure rate budgets (server/challenge.py, issue 13): guesses, codes, resets, `next`."""

from __future__ import annotations

import pytest

from mfa_harness.server.challenge import (
    HOUR,
    Budget,
    ChallengeState,
    CodeState,
    decide_verify,
    guess_budget,
    login_code_budget,
    reset_budget,
    sanitize_next,
)
from mfa_harness.server.policy import Policy, policy_from_mapping

P = Policy()


def test_defaults_are_the_documented_ones():
    assert (P.max_unused_codes_per_account_hour, P.max_wrong_codes_per_account_hour,
            P.max_wrong_codes_before_freeze, P.max_resets_per_account_hour, P.max_resets_per_client_hour) == \
        (10, 10, 100, 3, 20)


def test_new_keys_load_and_are_checked():
    p = policy_from_mapping({"max_wrong_codes_per_account_hour": 20, "max_resets_per_client_hour": 50})
    assert (p.max_wrong_codes_per_account_hour, p.max_resets_per_client_hour) == (20, 50)
    with pytest.raises(ValueError, match="must be > 0"):
        policy_from_mapping({"max_unused_codes_per_account_hour": 0})


def test_guesses_per_hour_cap_and_when_it_frees():
    nine = [100.0 + i for i in range(9)]
    assert guess_budget(nine, 9, 200.0, P).allowed
    refused = guess_budget([*nine, 150.0], 10, 200.0, P)
    assert refused == Budget(False, "guess_cap", pytest.approx(100.0 + HOUR - 200.0))
    assert guess_budget([*nine, 150.0], 10, 100.0 + HOUR, P).allowed      # the oldest left the hour


def test_freeze_after_100_unanswered_wrong_codes_whatever_the_hour():
    assert guess_budget([], 99, 0.0, P).allowed
    assert guess_budget([], 100, 0.0, P).reason == "guess_freeze"
    assert guess_budget([], 500, 0.0, P, frozenset({"no-attempt-limit"})).allowed


def test_login_needs_both_budgets():
    unused = [float(i) for i in range(10)]
    assert login_code_budget(unused[:9], [], 0, 50.0, P).allowed
    assert login_code_budget(unused, [], 0, 50.0, P).reason == "code_cap"
    assert login_code_budget([], [1.0] * 10, 10, 50.0, P).reason == "guess_cap"


def test_verify_with_the_budget_spent_checks_no_code():
    ch = ChallengeState(id=1, partner_id=9, expires_at=600.0)
    right = CodeState(id=1, challenge_id=1, issued_at=0.0, expires_at=300.0)
    d = decide_verify(ch, [right], 10.0, P, budget=Budget(False, "guess_cap", 60.0))
    assert (d.ok, d.reason, d.kill, d.count_wrong, d.cap) == (False, "too_many", True, False, "guess_cap")
    assert decide_verify(ch, [right], 10.0, P).ok


def test_reset_budgets_per_account_and_client():
    assert reset_budget([1.0, 2.0], [], 10.0, P).allowed
    assert reset_budget([1.0, 2.0, 3.0], [], 10.0, P).reason == "account_cap"
    assert reset_budget(None, [1.0] * 20, 10.0, P).reason == "client_cap"     # unknown user: client only
    assert reset_budget(None, [1.0] * 19, 10.0, P).allowed


@pytest.mark.parametrize(("target", "expected"), [
    ("/\u0430\u0431", "/%D0%B0%D0%B1"),
    ("/\u2028x", "/%E2%80%A8x"),
    ("/a\x7fb", "/partner/account"),
    ("/partner/verify/\u0430", "/partner/account"),
    ("/ok?x=1#y", "/ok?x=1#y"),
])
def test_next_is_made_safe_for_a_location_header(target, expected):
    result = sanitize_next(target)
    assert result == expected
    result.encode("latin-1")


def test_a_scenarios_policy_table_takes_the_new_keys(tmp_path):
    from mfa_harness.scenarios.spec import ScenarioError, load

    path = tmp_path / "budgets.toml"
    head = 'name = "budgets"\ndescription = "d"\nduration = 60\n[personas]\ncareful = 1\n[policy]\n'
    path.write_text(head + "max_unused_codes_per_account_hour = 40\nmax_wrong_codes_before_freeze = 50\n"
                    "max_resets_per_account_hour = 5\n", encoding="utf-8")
    assert load(path).policy == {"max_unused_codes_per_account_hour": 40, "max_wrong_codes_before_freeze": 50,
                                 "max_resets_per_account_hour": 5}
    path.write_text(head + "max_wrong_codes_per_account_hour = 0\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="max_wrong_codes_per_account_hour"):
        load(path)
