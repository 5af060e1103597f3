"""binding, black box: one account signed in from two browsers (persona `two-browsers`), the
second typing the first one's live code (`source: other_login`), with and without per-login
references, under per-login codes and under a `codes_repeat` policy."""

from __future__ import annotations

import pytest
from histories import History

from mfa_harness.checker import CheckContext, check

BB = CheckContext(white_box=False)
REPEATING = CheckContext(white_box=False, policy={"codes_repeat": True})


def two_browsers(answer: str, with_refs: bool, own: str = "222222") -> tuple[History, tuple]:
    """Browser 1 signs in and reads its code; browser 2 signs in, reads its own, types browser 1's
    (`answer`: ok, fail or info), then its own when that was refused. Returns the foreign verify."""
    h = History()
    ref_a, ref_b = ("REFAAAAA", "REFBBBBB") if with_refs else (None, None)
    h.op(0.0, "login", "ok", flow="f1", result={"ref": ref_a, "landed": "/partner/verify", "page": "verify"})
    h.op(1.0, "read_code", "ok", flow="f1", result={"code": "111111", "message_id": "<a@p>", "ref": ref_a, "seq": 1})
    h.op(2.0, "login", "ok", flow="f1", result={"ref": ref_b, "landed": "/partner/verify", "page": "verify"})
    h.op(3.0, "read_code", "ok", flow="f1", result={"code": own, "message_id": "<b@p>", "ref": ref_b, "seq": 2})
    evidence = {"known_by": "ref" if with_refs else "predates", "code_ref": ref_a, "code_seq": 1,
                "login_after_seq": 1}
    foreign = h.op(4.0, "verify", answer, flow="f1", args={"code": "111111", "ref": ref_b, "source": "other_login",
                                                           **evidence},
                   result={"landed": "/partner/account", "page": "account"} if answer == "ok" else
                   {"reason": "wrong"} if answer == "fail" else {"reason": "connection"})
    if answer != "ok":
        h.op(5.0, "verify", "ok", flow="f1", args={"code": own, "ref": ref_b},
             result={"landed": "/partner/account", "page": "account"})
    return h, foreign


@pytest.mark.parametrize("with_refs", [True, False], ids=["reference", "predates"])
def test_binding_other_browsers_live_code_accepted_is_invalid(with_refs: bool) -> None:
    h, foreign = two_browsers("ok", with_refs)
    r = check(h.lines(), BB)["binding"]
    assert r["valid"] is False and r["examples"] == [list(foreign)]
    assert r["other_login_codes"]["accepted"] == 1
    assert r["other_login_codes"]["known_by"] == ["ref" if with_refs else "predates"]


@pytest.mark.parametrize("with_refs", [True, False], ids=["reference", "predates"])
def test_binding_other_browsers_live_code_refused_is_valid_and_counted(with_refs: bool) -> None:
    h, _ = two_browsers("fail", with_refs)
    r = check(h.lines(), BB)["binding"]
    assert r["valid"] is True and r["checked"] >= 1 and r["other_login_codes"] == {
        "tries": 1, "accepted": 0, "known_by": []}


def test_binding_other_browsers_code_with_unknown_outcome_proves_nothing() -> None:
    """`info` is never proof: the verify may or may not have opened the login."""
    h, _ = two_browsers("info", with_refs=False)
    assert check(h.lines(), BB)["binding"]["valid"] == "unknown"


def test_binding_other_browsers_code_accepted_under_a_codes_repeat_policy_is_only_noted() -> None:
    """Time-based or device codes (Flask-Security, django-otp): one code may open several logins."""
    h, _ = two_browsers("ok", with_refs=False)
    r = check(h.lines(), REPEATING)["binding"]
    assert r["valid"] is not False and r["violations"] == 0
    assert r["other_login_codes"] == {"tries": 1, "accepted": 1, "allowed_by_policy": True}


def test_binding_other_browsers_code_equal_to_the_logins_own_is_a_repeat_judged_by_chance() -> None:
    h, _ = two_browsers("ok", with_refs=False, own="111111")
    r = check(h.lines(), BB)["binding"]
    assert r["valid"] is True and r["code_repeats"]["repeats"] == 1      # once: chance allows it
