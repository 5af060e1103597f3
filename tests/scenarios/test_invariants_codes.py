"""single_use, expiry and binding: bad, good, `info`-only and black-box histories."""

from __future__ import annotations

from histories import History, code_of, msg_of, ref_of

from mfa_harness.checker import CheckContext, check

WB = CheckContext()
BB = CheckContext(white_box=False)


def verdict(h: History, name: str, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)[name]


# --- single_use ------------------------------------------------------------------------

def test_single_use_code_accepted_twice_is_invalid_with_both_accepts_as_example():
    h = History()
    lines = h.login(10.0, 1, 1)
    second = h.verify_ok(16.0, 1, 1)
    r = verdict(h, "single_use")
    assert r["valid"] is False and r["violations"] == 1
    assert r["examples"] == [[lines["code"], lines["verify_ok"], second]]


def test_single_use_one_accept_per_code_is_valid():
    h = History()
    h.login(10.0, 1, 1)
    h.login(10.0, 2, 2)
    assert verdict(h, "single_use")["valid"] is True


def test_single_use_second_submission_with_info_outcome_proves_nothing():
    h = History()
    lines = h.login(10.0, 1, 1, portal=False)
    h.op(20.0, "verify", "info", args={"code": code_of(1), "ref": ref_of(1)}, flow="f1", proc="w-1")
    assert verdict(h, "single_use", BB)["valid"] == "unknown"
    assert lines["verify_done"]["type"] == "ok"


def test_single_use_black_box_two_client_accepts_of_one_email_is_invalid():
    h = History()
    lines = h.login(10.0, 1, 1, portal=False)
    inv, done = h.op(20.0, "verify", "ok", args={"code": code_of(1), "ref": ref_of(1)}, flow="f1", proc="w-1")
    r = verdict(h, "single_use", BB)
    assert r["valid"] is False
    assert r["examples"][0] == [lines["read"], lines["verify_invoke"], lines["verify_done"], inv, done]


def test_single_use_black_box_one_accepted_code_is_valid_with_one_case():
    h = History()
    h.login(10.0, 1, 1, portal=False)
    r = verdict(h, "single_use", BB)
    assert r["valid"] is True and r["checked"] == 1


def test_single_use_black_box_without_evidence_is_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": ref_of(1), "landed": "/partner/verify"})
    assert verdict(h, "single_use", BB)["valid"] == "unknown"


# --- expiry ----------------------------------------------------------------------------

def test_expiry_code_accepted_after_its_expiry_is_invalid():
    h = History()
    h.login(10.0, 1, 1, verify_after=1000.0, portal=False)
    h.challenge(10.05, 1)
    code = h.code(10.1, 1, 1, deliver=False)
    late = h.verify_ok(1010.1, 1, 1)
    r = verdict(h, "expiry")
    assert r["valid"] is False and r["examples"] == [[code, late]]


def test_expiry_uses_policy_ttl_when_the_portal_claims_a_longer_expiry():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.0, 1, 1, ttl=480.0)          # expiry-off-by-minutes: 8 minutes
    late = h.verify_ok(400.0, 1, 1)
    r = verdict(h, "expiry")
    assert r["valid"] is False and r["examples"] == [[code, late]]


def test_expiry_follows_the_portal_clock_across_a_jump():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    h.portal(1.0, "clock_advanced", by=250.0, offset=250.0)
    h.portal_offset = 250.0
    ok = h.verify_ok(60.0, 1, 1)                  # portal time 310 > 300
    assert ok["st"] == 310.0
    assert verdict(h, "expiry")["valid"] is False


def test_expiry_code_accepted_just_in_time_is_valid():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    h.verify_ok(299.9, 1, 1)
    assert verdict(h, "expiry")["valid"] is True


def test_expiry_late_verify_with_info_outcome_is_not_a_violation():
    h = History()
    h.login(10.0, 1, 1, portal=False, verify_after=2.0)
    h.op(1000.0, "verify", "info", args={"code": code_of(1), "ref": ref_of(1)}, flow="f1", proc="w-1")
    assert verdict(h, "expiry", BB)["valid"] == "unknown"


def test_expiry_black_box_client_accept_long_after_delivery_is_invalid():
    h = History()
    lines = h.login(10.0, 1, 1, portal=False, verify_after=400.0)
    r = verdict(h, "expiry", BB)
    assert r["valid"] is False
    assert r["examples"][0] == [lines["read"], lines["verify_invoke"], lines["verify_done"]]


def test_expiry_black_box_timely_accept_is_valid():
    h = History()
    h.login(10.0, 1, 1, portal=False, verify_after=100.0)
    r = verdict(h, "expiry", BB)
    assert r["valid"] is True and r["checked"] == 1


# --- binding ---------------------------------------------------------------------------

def test_binding_code_of_another_challenge_opening_this_one_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    h.challenge(0.0, 2)
    code = h.code(0.1, 1, 1)
    h.code(0.1, 2, 2)
    wrong = h.verify_ok(5.0, 2, 1)
    r = verdict(h, "binding")
    assert r["valid"] is False and r["examples"] == [[code, wrong]]


def test_binding_each_code_on_its_own_challenge_is_valid():
    h = History()
    h.login(0.0, 1, 1)
    h.login(0.0, 2, 2, pid=1)
    assert verdict(h, "binding")["valid"] is True


def test_binding_info_verify_with_a_teammates_code_proves_nothing():
    h = History()
    h.login(0.0, 1, 1, portal=False, flow="a", proc="w-a")
    h.login(0.0, 2, 2, portal=False, flow="b", proc="w-b")
    h.op(3.0, "read_code", "ok", flow="b", proc="w-b",
         result={"code": code_of(1), "message_id": "<m1@portal>", "ref": ref_of(1), "seq": 1})
    h.op(3.5, "verify", "info", flow="b", proc="w-b", args={"code": code_of(1), "ref": ref_of(2)})
    assert verdict(h, "binding", BB)["valid"] == "unknown"


def test_binding_black_box_teammates_code_accepted_is_invalid():
    h = History()
    h.login(0.0, 1, 1, portal=False, flow="a", proc="w-a")
    h.op(0.0, "login", "ok", flow="b", proc="w-b", result={"ref": ref_of(2), "landed": "/partner/verify"})
    read = h.op(3.0, "read_code", "ok", flow="b", proc="w-b",
                result={"code": code_of(1), "message_id": "<m1@portal>", "ref": ref_of(1), "seq": 1})[1]
    inv, done = h.op(3.5, "verify", "ok", flow="b", proc="w-b", args={"code": code_of(1), "ref": ref_of(2)})
    r = verdict(h, "binding", BB)
    assert r["valid"] is False and r["examples"] == [[read, inv, done]]


# --- without a per-login reference: replayed and teammates' codes (persona behaviours) ----------

def _new_login(h: History, t: float, own: str, flow: str, user: str = "user1@example.com") -> None:
    h.op(t, "login", "ok", flow=flow, user=user, result={"ref": None, "landed": "/partner/verify", "page": "verify"})
    h.op(t + 1, "read_code", "ok", flow=flow, user=user, result={"code": own, "message_id": f"<{flow}@p>"})


def _foreign(h: History, t: float, code: str, source: str, typ: str, flow: str) -> tuple:
    return h.op(t, "verify", typ, flow=flow, args={"code": code, "ref": None, "source": source},
                result={"page": "account"} if typ == "ok" else {"reason": "wrong"})


def test_single_use_replayed_used_code_accepted_in_a_new_login_is_invalid():
    h = History()
    _new_login(h, 0.0, "111111", "f2")
    bad = _foreign(h, 3.0, "999999", "replay", "ok", "f2")
    r = verdict(h, "single_use", BB)
    assert r["valid"] is False and r["examples"] == [list(bad)]


def test_single_use_replayed_code_refused_is_valid():
    h = History()
    _new_login(h, 0.0, "111111", "f2")
    _foreign(h, 3.0, "999999", "replay", "fail", "f2")
    r = verdict(h, "single_use", BB)
    assert r["valid"] is True and r["checked"] == 1


def test_single_use_codes_repeating_across_logins_beyond_chance_is_invalid_unless_policy_allows():
    h = History()
    for i in range(2):
        _new_login(h, 10.0 * i, "424242", f"f{i}")
        _foreign(h, 10.0 * i + 3, "424242", "replay", "ok", f"f{i}")
    r = verdict(h, "single_use", BB)
    assert r["valid"] is False and r["code_repeats"]["repeats"] == 2
    once = History()
    _new_login(once, 0.0, "424242", "f0")
    _foreign(once, 3.0, "424242", "replay", "ok", "f0")
    assert verdict(once, "single_use", BB)["valid"] is True          # one repeat: chance allows it
    timed = CheckContext(white_box=False, policy={"codes_repeat": True})
    assert verdict(h, "single_use", timed)["valid"] is True


def test_binding_teammates_code_accepted_is_invalid():
    h = History()
    _new_login(h, 0.0, "111111", "f1")
    bad = _foreign(h, 3.0, "222222", "teammate", "ok", "f1")
    r = verdict(h, "binding", BB)
    assert r["valid"] is False and r["examples"] == [list(bad)]


def test_binding_teammates_code_refused_is_valid():
    h = History()
    _new_login(h, 0.0, "111111", "f1")
    _foreign(h, 3.0, "222222", "teammate", "fail", "f1")
    r = verdict(h, "binding", BB)
    assert r["valid"] is True and r["checked"] == 1


def test_a_verify_cut_short_by_the_end_of_the_run_leaves_unrelated_answers_valid():
    """Every run ends with some verifies in flight: an unknown outcome blocks only the cases it could break."""
    h = History()
    h.login(10.0, 1, 1, portal=False)
    h.op(30.0, "login", "ok", flow="f2", proc="w-2", result={"ref": ref_of(2), "landed": "/partner/verify"})
    h.op(31.0, "read_code", "ok", flow="f2", proc="w-2",
         result={"code": code_of(2), "message_id": msg_of(2), "ref": ref_of(2)})
    h.op(32.0, "verify", "info", flow="f2", proc="w-2", args={"code": code_of(2), "ref": ref_of(2)},
         result={"reason": "stopped"})
    result = check(h.lines(), BB)
    for name in ("single_use", "expiry", "binding", "attempt_limits"):
        assert result[name]["valid"] is True, (name, result[name])


def test_a_replay_the_run_stopped_mid_request_is_left_out_but_a_timed_out_one_is_undecided():
    """Locust stopping mid-request says nothing about the portal: the case is left out and counted
    (`cut_by_run_end`), so a clean black-box run stays valid. A timeout may hide an acceptance."""
    def run(reason: str) -> dict:
        h = History()      # the replayer's flow: a login, its code accepted, a new login, the old code again
        _new_login(h, 0.0, "111111", "f1")
        h.op(2.0, "verify", "ok", flow="f1", args={"code": "111111", "ref": None}, result={"page": "account"})
        _new_login(h, 10.0, "222222", "f1")
        h.op(13.0, "verify", "info", flow="f1", args={"code": "111111", "ref": None, "source": "replay"},
             result={"reason": reason})
        return verdict(h, "single_use", BB)
    stopped, timed_out = run("stopped"), run("timeout")
    assert stopped["valid"] is True and stopped["cut_by_run_end"] == 1 and "undecided" not in stopped, stopped
    assert timed_out["valid"] == "unknown" and timed_out["undecided"] == 1, timed_out
