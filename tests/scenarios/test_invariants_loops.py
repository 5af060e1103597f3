"""no_login_loops: decidable from client lines alone, so it can be valid in black box too."""

from __future__ import annotations

from histories import History

from mfa_harness.checker import CheckContext, check

WB = CheckContext()
BB = CheckContext(white_box=False)


def verdict(h: History, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)["no_login_loops"]


def test_loop_that_ended_in_a_loop_is_invalid_with_its_flow_line():
    h = History()
    h.login(0.0, 1, 1)
    loop = h.loop(7.0, "loop", flow="f2", proc="w-2")
    flow = h.flow(8.0, "loop", flow="f2", proc="w-2")
    r = verdict(h)
    assert r["valid"] is False and r["violations"] == 1 and r["examples"] == [[loop, flow]]


def test_flow_with_outcome_loop_is_invalid():
    h = History()
    flow = h.flow(8.0, "loop", flow="f9")
    r = verdict(h)
    assert r["valid"] is False and r["examples"] == [[flow]]


def test_loops_broken_by_the_portal_are_valid():
    h = History()
    h.login(0.0, 1, 1)
    h.loop(7.0, "cookies_blocked", flow="f2")
    h.loop(7.5, "session", flow="f3")
    assert verdict(h)["valid"] is True


def test_flow_line_with_info_outcome_does_not_count():
    h = History()
    h.login(0.0, 1, 1)
    h.flow(8.0, "loop", flow="f2", typ="info")
    assert verdict(h)["valid"] is True


def test_black_box_decides_from_client_lines():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    assert verdict(h, BB)["valid"] is True
    h.loop(9.0, "loop", flow="f1")
    assert verdict(h, BB)["valid"] is False


def test_no_client_history_is_unknown():
    h = History()
    h.challenge(0.0, 1)
    assert verdict(h)["valid"] == "unknown"


# --- the definition: one bounce to sign-in is not a loop; two without progress are --------------

def _bounce(h: History, t: float, flow: str = "f1") -> tuple:
    return h.op(t, "verify", "fail", flow=flow, args={"code": "123456", "ref": None},
                result={"reason": "bounced", "message": "expired", "page": "login", "chain": ["/v", "/login"]})


def test_one_bounce_to_sign_in_with_a_message_is_not_a_loop():
    h = History()
    _bounce(h, 1.0)
    h.op(3.0, "login", "ok", result={"landed": "/partner/verify", "page": "verify"})
    h.op(5.0, "verify", "ok", result={"page": "account"})
    h.op(6.0, "access_account", "ok", result={"page": "account"})
    h.flow(7.0, "ok")
    r = verdict(h, BB)
    assert r["valid"] is True and r["checked"] == 1 and r["bounces"] == 1


def test_two_bounces_without_progress_are_a_loop():
    h = History()
    first = _bounce(h, 1.0)
    h.op(3.0, "login", "ok", result={"landed": "/partner/verify", "page": "verify"})
    second = _bounce(h, 5.0)
    flow = h.flow(7.0, "error")
    r = verdict(h, BB)
    assert r["valid"] is False and r["examples"] == [[*first, *second, flow]]


def test_bounces_with_a_signed_in_page_between_are_not_a_loop():
    h = History()
    _bounce(h, 1.0)
    h.op(3.0, "verify", "ok", result={"page": "account"})
    h.op(4.0, "access_account", "ok", result={"page": "account"})
    _bounce(h, 5.0)
    h.flow(7.0, "error")
    assert verdict(h, BB)["valid"] is True


def test_account_page_bouncing_twice_after_accepted_codes_is_a_loop():
    h = History()
    for t in (1.0, 10.0):
        h.op(t, "verify", "ok", result={"page": "account"})
        h.op(t + 1, "access_account", "fail", result={"page": "login", "landed": "/partner/login"})
    h.flow(20.0, "error")
    assert verdict(h, BB)["valid"] is False


def test_no_finished_flow_is_unknown():
    h = History()
    h.op(0.0, "login", "ok", result={"landed": "/partner/verify"})
    assert verdict(h, BB)["valid"] == "unknown"
