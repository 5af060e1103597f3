"""resend_limits and attempt_limits: bad, good, `info`-only and black-box histories."""

from __future__ import annotations

from histories import History, account, ref_of

from mfa_harness.checker import CheckContext, check

WB = CheckContext()
BB = CheckContext(white_box=False)


def verdict(h: History, name: str, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)[name]


# --- resend_limits ---------------------------------------------------------------------

def test_resend_inside_the_cooldown_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    first = h.code(0.0, 1, 1)
    quick = h.code(10.0, 1, 2, reason="resend")
    r = verdict(h, "resend_limits")
    assert r["valid"] is False and r["examples"] == [[first, quick]]


def test_more_codes_per_challenge_than_the_cap_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    codes = [h.code(40.0 * i, 1, i + 1, reason="resend" if i else "login") for i in range(6)]
    r = verdict(h, "resend_limits")
    assert r["violations"] == 1 and r["examples"] == [[codes[0], codes[5]]]


def test_more_codes_per_account_per_hour_than_the_cap_is_invalid():
    h = History()
    codes = []
    for i in range(11):                      # 11 challenges of one partner, the last code a resend
        h.challenge(100.0 * i, i + 1)
        codes.append(h.code(100.0 * i, i + 1, i + 1, reason="resend" if i == 10 else "login"))
    r = verdict(h, "resend_limits")
    assert r["violations"] == 1 and r["examples"] == [[codes[0], codes[10]]]


def test_resends_within_limits_and_an_hour_apart_are_valid():
    h = History()
    for i in range(12):
        h.challenge(800.0 * i, i + 1)
        h.code(800.0 * i, i + 1, 2 * i + 1)
        h.code(800.0 * i + 31.0, i + 1, 2 * i + 2, reason="resend")
    assert verdict(h, "resend_limits")["valid"] is True


def test_resend_with_info_outcome_does_not_count_against_the_cooldown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    h.op(5.0, "resend", "info")
    h.op(8.0, "resend", "info")
    assert verdict(h, "resend_limits", BB)["valid"] == "unknown"


BBA = CheckContext(white_box=False, accounts=[account(1)])


def _mail(h: History, t: float, n: int) -> None:
    h.inbox(t, "delivered", f"<m{n}@portal>", ["team1@example.com"], f"{n:06d}", seq=n, id=str(n), folder="inbox")


def test_resend_black_box_two_mailed_resends_inside_the_cooldown_are_invalid():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    _mail(h, 0.5, 1)
    a = h.op(40.0, "resend", "ok")
    _mail(h, 40.5, 2)
    b = h.op(45.0, "resend", "ok")
    _mail(h, 45.5, 3)
    r = verdict(h, "resend_limits", BBA)
    assert r["valid"] is False and r["examples"][0][:4] == [*a, *b]
    assert r["checked"] == 3 and r["resends_without_mail"]["count"] == 0


def test_resend_black_box_counts_mails_delivered_not_the_clients_claims():
    """Six resends the client thought succeeded, only one produced a mail: within every limit."""
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    _mail(h, 0.5, 1)
    for i in range(6):
        h.op(40.0 + i, "resend", "ok")
    _mail(h, 40.5, 2)
    r = verdict(h, "resend_limits", BBA)
    assert r["valid"] is True and r["checked"] == 2
    assert r["resends_without_mail"]["count"] == 5


def test_resend_black_box_without_accounts_file_is_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    h.op(40.0, "resend", "ok")
    assert verdict(h, "resend_limits", BB)["valid"] == "unknown"


def test_resend_black_box_old_code_accepted_after_a_mailed_resend_is_invalid():
    """Policy "invalidate": the code read before a resend that mailed a new one must be void."""
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    _mail(h, 0.5, 1)
    read = h.op(1.0, "read_code", "ok", result={"code": "000001", "message_id": "<m1@portal>", "seq": 1})
    resend = h.op(40.0, "resend", "ok")
    _mail(h, 40.5, 2)
    verify = h.op(50.0, "verify", "ok", args={"code": "000001", "ref": ref_of(1)}, result={"page": "account"})
    r = verdict(h, "resend_limits", BBA)
    assert r["valid"] is False and r["examples"] == [[read[1], *resend, *verify]]
    keep = CheckContext(white_box=False, accounts=[account(1)], policy={"resend": "keep"})
    assert verdict(h, "resend_limits", keep)["valid"] is True


def test_resend_black_box_old_code_after_a_resend_without_mail_is_valid():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    _mail(h, 0.5, 1)
    h.op(1.0, "read_code", "ok", result={"code": "000001", "message_id": "<m1@portal>", "seq": 1})
    h.op(40.0, "resend", "ok")
    h.op(50.0, "verify", "ok", args={"code": "000001", "ref": ref_of(1)}, result={"page": "account"})
    assert verdict(h, "resend_limits", BBA)["valid"] is True


def test_white_box_code_accepted_after_a_newer_resend_code_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    old = h.code(0.0, 1, 1)
    new = h.code(40.0, 1, 2, reason="resend")
    ok = h.verify_ok(50.0, 1, 1)
    r = verdict(h, "resend_limits")
    assert r["valid"] is False and r["examples"] == [[old, new, ok]]
    assert verdict(h, "resend_limits", CheckContext(policy={"resend": "keep"}))["valid"] is True


def test_resend_black_box_refused_resends_are_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    h.op(5.0, "resend", "fail", result={"reason": "rate_limited", "retry_after": 25})
    assert verdict(h, "resend_limits", BB)["valid"] == "unknown"


# --- attempt_limits --------------------------------------------------------------------

def test_success_after_the_attempt_limit_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    wrong = [h.verify_fail(1.0 + i, 1, "wrong", attempts=i + 1) for i in range(5)]
    ok = h.verify_ok(10.0, 1, 1)
    r = verdict(h, "attempt_limits")
    assert r["valid"] is False and r["examples"] == [[wrong[0], wrong[4], ok]]


def test_more_wrong_codes_than_the_limit_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    wrong = [h.verify_fail(1.0 + i, 1, "wrong", attempts=i + 1) for i in range(7)]
    r = verdict(h, "attempt_limits")
    assert r["violations"] == 1 and r["examples"] == [[wrong[0], wrong[4], wrong[5]]]


def test_attempts_within_the_limit_then_too_many_is_valid():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    for i in range(4):
        h.verify_fail(1.0 + i, 1, "wrong", attempts=i + 1)
    h.verify_ok(6.0, 1, 1)
    h.challenge(10.0, 2)
    for i in range(5):
        h.verify_fail(11.0 + i, 2, "wrong", attempts=i + 1)
    h.verify_fail(17.0, 2, "too_many", attempts=5)
    assert verdict(h, "attempt_limits")["valid"] is True


def _guesser(h: History, flow: str, tries: int, wins: int, typ_of_wins: str = "ok") -> None:
    for i in range(tries):
        typ = typ_of_wins if i < wins else "fail"
        h.op(float(i), "verify", typ, flow=flow, proc=flow, persona="code-guesser",
             args={"code": f"{i:06d}", "ref": flow}, result={"reason": "wrong"} if typ == "fail" else {})


def test_guessers_succeeding_more_often_than_chance_is_invalid():
    h = History()
    h.portal(0.0, "portal_started", pid=1, bugs=[], policy={})
    _guesser(h, "g1", 20, 3)
    r = verdict(h, "attempt_limits")
    assert r["valid"] is False and r["guesses"]["successes"] == 3
    assert all(line["persona"] == "code-guesser" for line in r["examples"][0])


def test_guessers_info_outcomes_are_not_successes():
    h = History()
    h.portal(0.0, "portal_started", pid=1, bugs=[], policy={})
    _guesser(h, "g1", 20, 3, typ_of_wins="info")
    r = verdict(h, "attempt_limits")
    assert r["valid"] is True and r["guesses"] == {"tries": 17, "successes": 0, "bound": 1.025}


def test_attempt_limits_black_box_success_after_five_wrong_is_invalid():
    h = History()
    for i in range(5):
        h.op(float(i), "verify", "fail", args={"code": f"{i:06d}", "ref": "R"}, result={"reason": "wrong"})
    inv, done = h.op(6.0, "verify", "ok", args={"code": "424242", "ref": "R"})
    r = verdict(h, "attempt_limits", BB)
    assert r["valid"] is False and r["examples"][0][-2:] == [inv, done]


def test_attempt_limits_black_box_info_verifies_do_not_count_as_wrong():
    h = History()
    for i in range(5):
        h.op(float(i), "verify", "info", args={"code": f"{i:06d}", "ref": "R"})
    h.op(6.0, "verify", "ok", args={"code": "424242", "ref": "R"})
    assert verdict(h, "attempt_limits", BB)["valid"] == "unknown"


def _read_ref(h: History, t: float, code: str, ref: str, **kw) -> tuple:
    return h.op(t, "read_code", "ok", result={"code": code, "message_id": f"<{code}@p>", "ref": ref}, **kw)


def test_resend_black_box_two_different_codes_for_one_request_are_invalid():
    """The reader of every code mail of its login notes a second code nobody asked for."""
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    a = _read_ref(h, 1.0, "111111", ref_of(1))
    b = _read_ref(h, 2.0, "222222", ref_of(1), args={"purpose": "extra"})
    r = verdict(h, "resend_limits", BBA)
    assert r["valid"] is False and r["examples"] == [[*a, *b]]


def test_resend_black_box_a_second_code_after_a_resend_or_a_duplicate_is_fine():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify", "page": "verify"})
    _mail(h, 0.5, 1)
    _read_ref(h, 1.0, "111111", ref_of(1))
    _read_ref(h, 1.5, "111111", ref_of(1))          # the same code twice (a duplicated mail)
    h.op(40.0, "resend", "ok")
    _read_ref(h, 41.0, "222222", ref_of(1))
    _read_ref(h, 42.0, "333333", ref_of(2))          # another login's mail on a shared address
    assert verdict(h, "resend_limits", BBA)["violations"] == 0


def test_white_box_a_second_code_no_resend_asked_for_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    first = h.code(0.0, 1, 1)
    second = h.code(0.1, 1, 2)                       # reason "login" again: nobody asked
    r = verdict(h, "resend_limits")
    assert r["valid"] is False and r["examples"] == [[first, second]]
