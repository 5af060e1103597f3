"""5xx answers and unclassified pages are counted; above the allowed share a run cannot pass."""

from __future__ import annotations

from histories import History

from mfa_harness.scenarios.server_answers import DEFAULT_MAX_ERROR_SHARE, error_share_problem, server_answers
from mfa_harness.scenarios.verdict_io import compute_verdict


def _history(bad: int, good: int) -> list[dict]:
    h = History()
    t = 0.0
    for _ in range(good):
        h.login(t, int(t) + 1, int(t) + 1, portal=False)
        t += 10.0
    for i in range(bad):
        status = 502 if i % 2 else 200
        h.op(t + i, "login", "fail", result={"reason": "error", "status": status, "page": None, "chain": ["/login"]})
    h.op(t + 99, "verify", "info", result={"reason": "connection", "error": "timeout"})
    return h.lines()


def test_counts_5xx_unclassified_and_unanswered_steps_apart():
    a = server_answers(_history(bad=4, good=2))
    # each good login: login, verify, access_account (read_code is the inbox, not the portal)
    assert (a["steps"], a["server_errors"], a["unclassified"], a["no_answer"]) == (11, 2, 2, 1)
    assert a["share"] == round(4 / 11, 4) and [e["kind"] for e in a["examples"]] == ["unclassified", "5xx",
                                                                                      "unclassified"]


def test_share_above_the_threshold_is_a_problem_naming_the_option():
    a = server_answers(_history(bad=4, good=2))
    problem = error_share_problem(a, DEFAULT_MAX_ERROR_SHARE)
    assert problem is not None and "--max-error-share" in problem and "2 server error(s)" in problem
    assert error_share_problem(a, 0.5) is None


def test_a_run_with_many_server_errors_cannot_pass_by_default():
    info = {"scenario": "smoke", "white_box": False, "locust_exit": 0}
    lines = _history(bad=4, good=2)
    verdict = compute_verdict(lines, info)
    assert verdict["passed"] is False and verdict["server_answers"]["server_errors"] == 2
    assert any("--max-error-share" in p for p in verdict["problems"])
    relaxed = compute_verdict(lines, {**info, "max_error_share": 0.5})
    assert not any("--max-error-share" in p for p in relaxed["problems"])
