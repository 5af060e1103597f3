"""no_false_rejections: bad, good, `info`-only, unpairable and black-box histories."""

from __future__ import annotations

from histories import History, code_of, msg_of, ref_of

from mfa_harness.checker import CheckContext, check

WB = CheckContext()
BB = CheckContext(white_box=False)


def verdict(h: History, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)["no_false_rejections"]


def _read(h: History, t: float, code_id: int, cid: int) -> dict:
    return h.op(t, "read_code", "ok", result={"code": code_of(code_id), "message_id": msg_of(code_id),
                                              "ref": ref_of(cid), "seq": code_id, "folder": "inbox"})[1]


def _client_verify(h: History, t: float, code_id: int, cid: int, typ: str = "fail", reason: str = "wrong"):
    return h.op(t, "verify", typ, args={"code": code_of(code_id), "ref": ref_of(cid)}, took=0.2,
                result={"reason": reason, "chain": []} if typ == "fail" else {})


def test_live_code_rejected_as_expired_is_invalid_from_portal_events_alone():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.0, 1, 1)
    early = h.verify_fail(100.0, 1, "expired", code_id=1)        # early-expiry bug
    r = verdict(h)
    assert r["valid"] is False and r["examples"] == [[code, early]]


def test_live_code_rejected_as_wrong_is_invalid_when_the_client_verify_pairs_with_it():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.0, 1, 1)
    read = _read(h, 1.0, 1, 1)
    inv, done = _client_verify(h, 5.0, 1, 1)
    rejected = h.verify_fail(5.1, 1, "wrong", code_id=None, attempts=1)
    r = verdict(h)
    assert r["valid"] is False and r["examples"] == [[read, inv, code, rejected, done]]


def test_legitimate_rejections_are_valid():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    h.verify_fail(301.0, 1, "expired", code_id=1)                # really expired
    h.challenge(0.0, 2)
    h.code(0.0, 2, 2)
    h.code(40.0, 2, 3, reason="resend")                          # resend=invalidate voids code 2
    h.verify_fail(50.0, 2, "wrong", code_id=2)
    h.challenge(0.0, 3)
    h.code(0.0, 3, 4)
    h.verify_ok(5.0, 3, 4)
    h.verify_fail(6.0, 3, "used", code_id=4)                     # second tab, already used
    h.challenge(0.0, 4)
    h.code(0.0, 4, 5)
    _read(h, 1.0, 1, 1)                                          # a teammate's code (challenge 1)
    _client_verify(h, 5.0, 1, 4)
    h.verify_fail(5.1, 4, "wrong", code_id=None, attempts=1)
    assert verdict(h)["valid"] is True


def test_kept_older_code_rejected_is_invalid_under_resend_keep():
    h = History()
    h.challenge(0.0, 2)
    code = h.code(0.0, 2, 2)
    h.code(40.0, 2, 3, reason="resend")
    rejected = h.verify_fail(50.0, 2, "wrong", code_id=2)
    r = verdict(h, CheckContext(policy={"resend": "keep"}))
    assert r["valid"] is False and r["examples"] == [[code, rejected]]


def test_client_verify_with_info_outcome_is_not_counted():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    _read(h, 1.0, 1, 1)
    _client_verify(h, 5.0, 1, 1, typ="info")
    h.verify_fail(5.1, 1, "wrong", code_id=None, attempts=1)
    assert verdict(h)["valid"] is True


def test_unpairable_client_verify_is_unknown_not_guessed():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    _read(h, 1.0, 1, 1)
    _client_verify(h, 5.0, 1, 1)
    h.verify_fail(5.05, 1, "wrong", code_id=None, attempts=1)    # two portal events in the window:
    h.verify_fail(5.10, 1, "wrong", code_id=None, attempts=2)    # which one was ours?
    r = verdict(h)
    assert r["valid"] == "unknown" and r["undecided"] == 1


def test_black_box_own_fresh_code_rejected_as_expired_is_invalid():
    h = History()
    login = h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})[0]
    read = _read(h, 1.0, 1, 1)
    inv, done = _client_verify(h, 20.0, 1, 1, reason="expired")
    r = verdict(h, BB)
    assert r["valid"] is False and r["examples"] == [[login, read, inv, done]]


def test_black_box_after_a_resend_under_invalidate_is_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    _read(h, 1.0, 1, 1)
    h.op(35.0, "resend", "ok")
    _client_verify(h, 40.0, 1, 1, reason="wrong")
    assert verdict(h, BB)["valid"] == "unknown"


def test_black_box_code_voided_by_a_notification_change_is_not_blamed():
    """Support changed an address (whose, the history need not say) while the flow waited: a correct
    portal voids the pending codes, so the refusal proves nothing."""
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    _read(h, 1.0, 1, 1)
    h.nemesis(3.0, "start", "change-notification", partner_id=7, old="a@x.example", new="b@x.example")
    _client_verify(h, 5.0, 1, 1, reason="wrong")
    assert verdict(h, BB)["valid"] == "unknown"


def test_black_box_old_code_rejected_as_expired_is_a_right_rejection():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    _read(h, 1.0, 1, 1)
    _client_verify(h, 400.0, 1, 1, reason="expired")
    r = verdict(h, BB)
    assert r["valid"] is True and r["checked"] == 1


def test_second_tab_code_rejected_by_the_newer_attempt_is_legitimate_not_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    h.challenge(0.05, 1)
    h.code(0.1, 1, 1)
    _read(h, 1.0, 1, 1)
    h.op(2.0, "login", "ok", result={"ref": ref_of(2), "landed": "/partner/verify"})   # second tab
    h.challenge(2.05, 2)
    h.code(2.1, 2, 2)
    _client_verify(h, 5.0, 1, 1)                                  # first tab, first code
    h.verify_fail(5.1, 2, "wrong", code_id=None, attempts=1)     # the cookie holds attempt 2
    assert verdict(h)["valid"] is True


def test_rejection_after_the_challenge_died_of_too_many_attempts_is_legitimate():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    for i in range(4):
        h.verify_fail(1.0 + i, 1, "wrong", attempts=i + 1)
    h.verify_fail(6.0, 1, "too_many", attempts=5)
    h.verify_fail(7.0, 1, "expired", code_id=1, attempts=5)
    assert verdict(h)["valid"] is True
    h.rows = [r for r in h.rows if r.get("reason") != "too_many"]
    assert verdict(h)["valid"] is False                          # the same rejection on a live challenge
