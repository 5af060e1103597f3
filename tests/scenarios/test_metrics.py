"""Flow metrics: exact percentiles on known data, counts by outcome, the per-minute series."""

from __future__ import annotations

import pytest
from histories import History

from mfa_harness.scenarios.metrics import flow_metrics, percentile


def test_percentile_is_nearest_rank_on_known_data():
    data = [float(x) for x in range(1, 101)]        # 1..100
    assert percentile(data, 50) == 50.0
    assert percentile(data, 95) == 95.0
    assert percentile(data, 99) == 99.0
    assert percentile(data, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError, match="within 0..100"):
        percentile([1.0], 101)


def _history() -> History:
    h = History()
    for i in range(1, 21):                           # 20 successful logins of 1..20 s, minute 0
        h.flow(float(i), "ok", flow=f"ok{i}", duration=float(i), resends=1 if i % 5 == 0 else 0)
    h.flow(70.0, "expired", flow="e1", resends=2)    # minute 1
    h.flow(75.0, "no_code", flow="n1")
    h.flow(200.0, "loop", flow="l1")                 # minute 3 (minute 2 empty)
    h.flow(201.0, "ok", flow="cut", typ="info")      # cut short by the end of the run
    h.loop(199.0, "loop", flow="l1")
    h.loop(150.0, "session", flow="x")
    for n, delay in enumerate([0.5, 1.0, 1.5, 2.0, 10.0]):
        mid = f"<d{n}@p>"
        h.inbox(10.0 * n, "received", mid, ["a@x"], "1")
        h.inbox(10.0 * n + delay, "delivered", mid, ["a@x"], "1", seq=n, id=str(n), folder="inbox")
    return h


def test_flow_metrics_on_known_history():
    m = flow_metrics(_history().lines())
    assert m["logins_ok"] == 20 and m["logins_failed"] == 3
    assert (m["login_ok_p50_s"], m["login_ok_p95_s"], m["login_ok_p99_s"]) == (10.0, 19.0, 20.0)
    assert (m["code_delivery_p50_s"], m["code_delivery_p99_s"]) == (1.5, 10.0)
    assert m["resends"] == 4 + 2
    assert m["loops"] == 2 and m["loops_unbroken"] == 1
    assert m["outcomes"] == {"expired": 1, "loop": 1, "no_code": 1, "ok": 20, "unknown": 1}
    assert m["resends_per_login"] == {"0": 19, "1": 4, "2": 1}


def test_outcome_series_bins_scenario_minutes_without_gaps():
    series = flow_metrics(_history().lines())["outcome_series"]
    assert series["bin_s"] == 60.0
    assert [b["t0"] for b in series["bins"]] == [0.0, 60.0, 120.0, 180.0]
    assert [b["counts"] for b in series["bins"]] == [{"ok": 20}, {"expired": 1, "no_code": 1}, {}, {"loop": 1, "unknown": 1}]


def test_delivery_falls_back_to_client_reads_without_inbox_lines():
    h = History()
    h.op(1.0, "read_code", "ok", result={"code": "1", "delay_s": 3.0})
    h.op(2.0, "read_code", "ok", result={"code": "2", "delay_s": 1.0})
    h.op(3.0, "read_code", "info", result={"delay_s": 99.0})
    m = flow_metrics(h.lines())
    assert (m["code_delivery_p50_s"], m["code_delivery_p99_s"]) == (1.0, 3.0)


def test_empty_history_gives_zero_counts_and_no_percentiles():
    m = flow_metrics([])
    assert m["logins_ok"] == 0 and m["login_ok_p95_s"] is None and m["outcome_series"]["bins"] == []


def test_delivery_delay_runs_from_code_issued_to_delivered_in_scenario_seconds():
    rows = []
    for n, (issued, delivered) in enumerate([(100.0, 100.5), (200.0, 203.0), (300.0, 300.2)]):
        rows.append({"src": "portal", "event": "code_issued", "wall": issued, "st": 99999.0,   # clock jumped
                     "message_id": f"<m{n}@p>", "id": n})
        rows.append({"src": "inbox", "event": "received", "wall": delivered - 0.1, "st": (delivered - 0.1) * 10,
                     "message_id": f"m{n}@p"})
        rows.append({"src": "inbox", "event": "delivered", "wall": delivered, "st": delivered * 10,
                     "message_id": f"m{n}@p"})
    m = flow_metrics(sorted(rows, key=lambda r: r["wall"]))
    assert (m["code_delivery_p50_s"], m["code_delivery_p99_s"]) == (5.0, 30.0)     # time scale 10
