"""The checker as a whole: a correct history is valid everywhere, bad input is refused clearly."""

from __future__ import annotations

import pytest
from histories import History, account

from mfa_harness.checker import INVARIANTS, REGISTRY, CheckContext, Evidence, HistoryError, check

# The verdict's order as first published: names keep their place; a new invariant comes after them.
ORDER = ["single_use", "expiry", "binding", "mfa_required", "affiliates", "recipient", "resend_limits",
         "attempt_limits", "no_false_rejections", "no_login_loops", "outbox"]


def good_history() -> History:
    h = History()
    h.login(10.0, 1, 1, pid=1)
    h.login(12.0, 2, 2, pid=2)
    h.portal(20.0, "affiliate_login", partner_id=3, session="aff3")
    h.session(20.0, 3, cid=None, mfa=False, program="affiliate", session="aff3")
    return h


def ctx(**kw) -> CheckContext:
    base = {"accounts": [account(1), account(2), account(3, "affiliate")]}
    return CheckContext(**{**base, **kw})


def test_invariant_names_in_contract_order():
    assert list(INVARIANTS)[:len(ORDER)] == ORDER


def test_correct_history_is_valid_on_every_invariant():
    result = check(good_history().lines(), ctx())
    assert list(result) == list(INVARIANTS)
    assert {name: r["valid"] for name, r in result.items()} == dict.fromkeys(INVARIANTS, True)
    assert all(r["violations"] == 0 and r["examples"] == [] for r in result.values())


def test_black_box_answers_valid_only_with_evidence():
    h = History()
    h.login(10.0, 1, 1, portal=False)
    h.flow(20.0, "ok")
    result = check(h.lines(), ctx(white_box=False, accounts=None))
    for name, r in result.items():
        assert r["valid"] is not False, name
        assert (r["valid"] is True) == (r["checked"] > 0 and not r.get("undecided")), (name, r)
    # what one clean client login (with its mail in the inbox) settles black box, without an accounts
    # file: every invariant that needs no more (registry), but `affiliates`, which has no affiliate here
    assert {n for n, r in result.items() if r["valid"] is True} == {
        inv.name for inv in REGISTRY if inv.black_box <= {Evidence.CLIENT, Evidence.INBOX}} - {"affiliates"}


def test_zero_cases_is_unknown_never_valid():
    result = check([], ctx(white_box=True))
    assert all(r["valid"] == "unknown" and r["checked"] == 0 for r in result.values())


def test_white_box_without_portal_lines_is_treated_as_black_box():
    h = History()
    h.login(10.0, 1, 1, portal=False)
    result = check(h.lines(), ctx(white_box=True))
    assert result["single_use"]["valid"] is True and result["single_use"]["checked"] == 1   # the client's evidence
    assert result["outbox"].get("codes_never_came") is not None                            # the black-box branch


def test_unknown_source_is_a_clear_error():
    with pytest.raises(HistoryError, match="line 1 has unknown src 'mail'"):
        check([{"src": "mail", "wall": 1.0, "st": 1.0}], ctx())


def test_non_object_line_is_a_clear_error():
    with pytest.raises(HistoryError, match="line 1 is not a JSON object"):
        check([["portal"]], ctx())


@pytest.mark.parametrize("policy, message", [
    ({"code_ttl": "5m"}, "code_ttl must be a non-negative number"),
    ({"resend": "sometimes"}, "resend must be 'invalidate' or 'keep'"),
])
def test_bad_policy_is_a_clear_error(policy, message):
    with pytest.raises(ValueError, match=message):
        CheckContext(policy=policy)


def test_bad_time_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="time_scale must be > 0"):
        CheckContext(time_scale=0)


def test_policy_defaults_are_filled_in():
    assert CheckContext(policy={"code_ttl": 60}).policy["max_attempts"] == 5


def test_policy_accepts_the_portals_own_names():
    policy = CheckContext(policy={"code_lifetime": 120.0, "pending_lifetime": 240.0, "smtp_timeout": 10.0}).policy
    assert (policy["code_ttl"], policy["challenge_ttl"]) == (120.0, 240.0)


def test_expiry_uses_the_ttl_the_portal_announced():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.0, 1, 1, ttl=300.0)
    late = h.verify_ok(200.0, 1, 1)
    result = check(h.lines(), CheckContext(policy={"code_lifetime": 120.0}))["expiry"]
    assert result["valid"] is False and result["examples"] == [[code, late]]


def test_the_checker_judges_by_the_rules_the_portal_enforces():
    from mfa_harness.checker.policy import CHECKER_ALIASES, DEFAULT_POLICY
    from mfa_harness.server.policy import Policy

    portal = Policy().as_dict()
    for name, value in DEFAULT_POLICY.items():
        if CHECKER_ALIASES.get(name, name) in portal:
            assert portal[CHECKER_ALIASES.get(name, name)] == value, name
    assert CheckContext(policy=portal).policy["code_ttl"] == portal["code_lifetime"]
