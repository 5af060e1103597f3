"""no_login_loops: decidable from client lines alone, so it can be valid in black box too."""

from __future__ import annotations

from histories import History

from scenarios.checker import CheckContext, check

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
