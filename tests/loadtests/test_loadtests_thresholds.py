"""Threshold expressions: parsing with clear errors, evaluation on flow metrics and Locust stats."""

from __future__ import annotations

import pytest
from locust.stats import RequestStats

from mfa_harness.loadtests import thresholds as th
from mfa_harness.loadtests.metrics import FlowMetrics


@pytest.mark.parametrize(("expr", "metric", "op", "limit"), [
    ("flow.p95 < 8s", "flow.p95", "<", 8.0),
    ("login_ok.p95 < 8s", "login_ok.p95", "<", 8.0),
    ("flow.success_rate >= 0.99", "flow.success_rate", ">=", 0.99),
    ("flow.success_rate>=99%", "flow.success_rate", ">=", 0.99),
    ("login.p95 < 8s", "flow.p95", "<", 8.0),                      # the deprecated names still work
    ("login.success_rate >= 0.99", "flow.success_rate", ">=", 0.99),
    ("code_delivery.p99 < 2s", "code_delivery.p99", "<", 2.0),
    ("code_wait_wall.p99.9 <= 1.5m", "code_wait_wall.p99.9", "<=", 90.0),
    ("loops == 0", "loops", "==", 0.0),
    ("outcome.expired <= 3", "outcome.expired", "<=", 3.0),
    ("http.fail_ratio < 0.01", "http.fail_ratio", "<", 0.01),
    ("http.p95 < 500ms", "http.p95", "<", 0.5),
    ("resends.max <= 3", "resends.max", "<=", 3.0),
    ("arrivals.dropped == 0", "arrivals.dropped", "==", 0.0),
])
def test_k6_style_expressions_parse(expr: str, metric: str, op: str, limit: float) -> None:
    t = th.parse(expr)
    assert (t.metric, t.op) == (metric, op) and t.limit == pytest.approx(limit)


@pytest.mark.parametrize(("expr", "message"), [
    ("", "empty threshold expression"),
    ("flow.p95 8s", "expected METRIC OP NUMBER"),
    ("flow.p95 < 8", "give a unit"),
    ("flow.p95 < 8%", "give a unit"),
    ("flow.p95 =< 8s", "unknown operator '=<'"),
    ("flow.p95 => 8s", "unknown operator '=>'"),
    ("flow.p95 < 8sec", "cannot read '8sec'"),
    ("flw.p95 < 8s", "did you mean 'flow.p95'"),
    ("login_okk.p95 < 8s", "did you mean 'login_ok.p95'"),
    ("loops == 0s", "drop the unit"),
    ("outcome.expired <= 3%", "% only applies to rates"),
    ("latency.p95 < 1s", "unknown metric 'latency.p95'"),
    ("login < 1s", "needs an aggregate"),
    ("login.p1000x < 1s", "expected METRIC OP NUMBER|needs an aggregate"),
    ("outcome.sad == 0", "unknown outcome 'sad'"),
    ("http.median < 1s", "unknown http aggregate"),
])
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(th.ThresholdError, match=message):
        th.parse(expr)


def test_evaluation_uses_scenario_time_for_flows_and_fails_without_data() -> None:
    m = FlowMetrics()
    for seconds in (0.1, 0.1, 0.1, 0.1):                       # wall seconds; scale 60 -> 6 s scenario
        m.record_flow("ok", seconds, 60.0, 0, None, None)
    m.record_flow("expired", 0.2, 60.0, 2, None, None)
    m.count("loops")
    ts = th.parse_all(["flow.p50 < 7s", "flow.max < 10s", "flow_wall.max < 1s", "flow.success_rate >= 0.8",
                       "outcome.expired <= 0", "loops == 0", "code_delivery.p99 < 2s", "resends.max <= 2",
                       "login_ok.max < 10s"])
    res = th.evaluate(ts, m, None)
    assert res["flow.p50 < 7s"]["passed"] and res["flow.p50 < 7s"]["value"] == pytest.approx(6.0, rel=1e-3)
    assert not res["flow.max < 10s"]["passed"] and res["flow_wall.max < 1s"]["passed"]
    assert res["flow.max < 10s"]["unit"] == "s scenario time" and res["flow_wall.max < 1s"]["unit"] == "s wall time"
    assert res["flow.success_rate >= 0.8"]["passed"] and res["flow.success_rate >= 0.8"]["value"] == 0.8
    assert res["login_ok.max < 10s"]["passed"]            # the expired flow (12 s here) is not a successful one
    assert not res["outcome.expired <= 0"]["passed"] and not res["loops == 0"]["passed"]
    nodata = res["code_delivery.p99 < 2s"]
    assert nodata["passed"] is False and nodata["value"] is None and nodata["note"] == "no data"
    assert res["resends.max <= 2"]["passed"]


def test_http_thresholds_read_locusts_aggregated_row() -> None:
    stats = RequestStats()
    for ms in range(1, 101):
        stats.log_request("GET", "/partner/login", ms * 10, 100)       # 10 ms .. 1000 ms
    stats.log_error("GET", "/partner/login", "HTTP 500")
    ts = th.parse_all(["http.p95 < 500ms", "http.p50 < 600ms", "http.fail_ratio < 0.001", "http.count >= 100"])
    res = th.evaluate(ts, FlowMetrics(), stats.total)
    assert not res["http.p95 < 500ms"]["passed"] and res["http.p95 < 500ms"]["value"] == pytest.approx(0.95, rel=0.02)
    assert res["http.p50 < 600ms"]["passed"]
    assert not res["http.fail_ratio < 0.001"]["passed"] and res["http.count >= 100"]["passed"]
    empty = th.evaluate(th.parse_all(["http.p95 < 1s"]), FlowMetrics(), RequestStats().total)
    assert empty["http.p95 < 1s"]["passed"] is False


def test_the_web_ui_form_gives_one_semicolon_separated_string() -> None:
    ts = th.parse_all("loops == 0; flow.p95 < 8s;")
    assert [t.expr for t in ts] == ["loops == 0", "flow.p95 < 8s"]
    assert th.parse_all(None) == [] and th.parse_all([]) == []


@pytest.mark.parametrize(("expr", "value", "missed"), [
    ("loops == 0", 0, False), ("loops == 0", 1, True), ("loops == 2", 1, False), ("loops == 2", 3, True),
    ("outcome.expired <= 3", 3, False), ("outcome.expired <= 3", 4, True),
    ("arrivals.dropped < 5", 4, False), ("arrivals.dropped < 5", 5, True),
    ("loops >= 1", 0, False),                 # a lower bound can still be met later
    ("flow.p95 < 1s", 5.0, False),            # percentiles can come back down
    ("flow.success_rate >= 0.9", 0.1, False),
])
def test_only_growing_counts_over_an_upper_limit_can_abort_early(expr: str, value: float, missed: bool) -> None:
    assert th.missed_for_good(th.parse(expr), value) is missed


def test_old_metric_names_are_deprecated_aliases_with_a_note() -> None:
    """`login.*` meant every flow while the summary's `p95` meant successful ones: one name each now."""
    t = th.parse("login.p95 < 8s")
    assert t.metric == "flow.p95" and "deprecated" in t.deprecated and "login_ok.p95" in t.deprecated
    assert th.parse("flow.p95 < 8s").deprecated == ""


def test_values_that_are_not_finite_never_reach_a_summary() -> None:
    m = FlowMetrics()
    m.record_flow("ok", 1.0, float("inf"), 0, float("nan"), 1e308)
    res = th.evaluate(th.parse_all(["flow.max < 1s", "code_wait.max < 1s"]), m, None)
    for row in res.values():
        assert row["value"] is None or row["value"] == row["value"] and abs(row["value"]) < float("inf")
    for row in m.summary().values():
        for v in row.values():
            assert not isinstance(v, float) or (v == v and abs(v) < float("inf")), row
