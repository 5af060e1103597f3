"""HDR flow metrics (exact, mergeable) and the history recorder (invoke, then one completion)."""

from __future__ import annotations

import json
from pathlib import Path

import gevent
import pytest
from gevent import GreenletExit

from mfa_harness.loadtests.history import BatchSink, FileSink, History, Recorder
from mfa_harness.loadtests.metrics import FlowMetrics
from mfa_harness.loadtests.timebase import Timebase


def test_histograms_keep_three_digits_and_merge_exactly() -> None:
    one, two, both = FlowMetrics(), FlowMetrics(), FlowMetrics()
    for i in range(1, 501):
        d = 4.0 + i / 1000.0                     # 4.001 .. 4.5 s: Locust's buckets would round to 4 / 5 s
        (one if i % 2 else two).record_flow("ok", d, 1.0, i % 3, d / 2, d / 4)
        both.record_flow("ok", d, 1.0, i % 3, d / 2, d / 4)
    merged = FlowMetrics()
    merged.merge(json.loads(json.dumps(one.encode())))
    merged.merge(json.loads(json.dumps(two.encode())))
    for name in ("flow", "flow_wall", "login_ok", "login_ok_wall", "code_wait", "code_delivery", "resends"):
        for agg in ("p50", "p95", "p99", "max", "count", "avg"):
            assert merged.stat(name, agg) == both.stat(name, agg), (name, agg)
        row = merged.summary()[name]
        for p in ("50", "90", "95", "99", "99.9"):                # one-pass summary == per-percentile query
            assert row[f"p{p}"] == round(both.stat(name, f"p{p}"), 6), (name, p)
    assert merged.stat("flow_wall", "p50") == pytest.approx(4.25, abs=0.005)
    assert merged.stat("flow_wall", "avg") == pytest.approx(4.2505, abs=1e-9)  # exact mean, not bucketed
    assert merged.outcomes == both.outcomes and merged.success_rate() == 1.0


def test_scenario_and_wall_axes_and_counters() -> None:
    m = FlowMetrics()
    m.record_flow("expired", 2.0, 30.0, 1, None, 0.5)
    m.count("loops", 2)
    assert m.stat("flow", "max") == pytest.approx(60.0, rel=1e-3)
    assert m.stat("flow_wall", "max") == pytest.approx(2.0, rel=1e-3)
    assert m.stat("login_ok", "count") == 0.0           # an expired flow is a flow, not a successful login
    assert m.stat("code_delivery", "p50") == pytest.approx(15.0, rel=1e-3)
    assert m.stat("code_wait", "p50") is None and m.stat("code_wait", "count") == 0.0
    assert m.success_rate() == 0.0 and m.counters["loops"] == 2
    summary = m.summary()
    assert summary["flow"]["unit"] == "s" and summary["resends"]["unit"] == "count"
    assert summary["code_wait"]["p95"] is None


def test_operations_write_invoke_then_exactly_one_completion(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "h.jsonl")
    rec = Recorder(History(Timebase(scale=10.0, epoch=1000.0), sink), "0-1", "careful", "ann@example.com")
    rec.new_flow()
    with rec.op("verify", {"code": "123456", "ref": "AB12CD34"}) as op:
        op.fail({"reason": "wrong"})
    with pytest.raises(ValueError), rec.op("resend"):
        raise ValueError("boom")
    with rec.op("login") as op:
        op.ok({"ref": "X"})
        with pytest.raises(RuntimeError, match="completed twice"):
            op.ok({})
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [(x["op"], x["type"]) for x in lines] == [("verify", "invoke"), ("verify", "fail"), ("resend", "invoke"),
                                                     ("resend", "info"), ("login", "invoke"), ("login", "ok")]
    assert lines[3]["value"]["reason"] == "error" and "boom" in lines[3]["value"]["error"]
    first = lines[0]
    assert first["src"] == "client" and first["proc"] == "0-1" and first["flow"] == "0-1-1"
    assert first["st"] == pytest.approx((first["wall"] - 1000.0) * 10.0, abs=1e-3)


def test_an_operation_cut_short_by_the_end_of_the_test_is_info() -> None:
    sent: list[tuple[list[str], bool]] = []
    rec = Recorder(History(Timebase(), BatchSink(lambda lines, final: sent.append((lines, final)))), "1-4", "slow", "u")

    def user() -> None:
        with rec.op("verify", {"code": "1"}):
            gevent.sleep(30)

    g = gevent.spawn(user)
    gevent.sleep(0)
    g.kill(GreenletExit)
    rec.history.sink.flush(final=True)
    lines = [json.loads(x) for batch, _ in sent for x in batch]
    assert [(x["type"], x["value"].get("reason")) for x in lines] == [("invoke", None), ("info", "stopped")]
    assert sent[-1][1] is True


def test_worker_batches_are_bounded_and_the_final_flush_always_sends() -> None:
    sent: list[tuple[int, bool]] = []
    sink = BatchSink(lambda lines, final: sent.append((len(lines), final)), batch=3)
    for i in range(7):
        sink.write(str(i))
    assert sent == [(3, False), (3, False)]
    sink.flush(final=True)
    sink.flush(final=True)
    assert sent[2:] == [(1, True), (0, True)] and sink.sent == 7


def test_listeners_see_every_line_after_the_sink_and_a_new_sink_replaces_the_old(tmp_path: Path) -> None:
    """Issue 10: readers of the history (the web UI's MFA tab) register as listeners; nobody wraps
    a sink's `write`. The sink writes first; swapping the sink keeps the other listeners."""
    history = History(Timebase(scale=1.0, epoch=0.0))
    seen: list[str] = []
    history.add_listener(seen.append)
    history.sink = FileSink(tmp_path / "h.jsonl")
    with Recorder(history, "0-1", "careful", "u").op("login"):
        pass
    history.publish('{"relayed":1}')
    history.sink.close()
    written = (tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()
    assert written == seen and len(seen) == 3 and history.count == 3
    assert history.listeners[0] == history.sink.write and len(history.listeners) == 2
    assert not hasattr(FileSink, "write_many")


def test_history_lines_are_byte_for_byte_what_json_dumps_wrote(tmp_path: Path) -> None:
    """Issue 15: the encoder built once writes exactly the documented format the old per-line dumps did."""
    from mfa_harness.loadtests.history import FileSink, History, encode_line
    from mfa_harness.loadtests.timebase import Timebase

    values = [{}, {"code": "012345", "ref": "R\u00e9f", "emoji": "🔐", "ctl": "\x00\n\u2028"},
              {"chain": ["/a", "/b?x=1"], "n": -0.0, "big": 2**70, "f": 1e16, "tiny": 5e-324, "none": None},
              {"nan": float("nan"), "inf": float("-inf"), "obj": Path("/x"), "nested": {"k": [True, False]}}]
    for v in values:
        assert encode_line(v) == json.dumps(v, separators=(",", ":"), default=str)
    path = tmp_path / "h.jsonl"
    sink = FileSink(path)
    hist = History(Timebase(scale=100.0, epoch=1790000000.0), sink)
    for i, v in enumerate(values):
        hist.emit("invoke", "verify", v, proc="w1-0", flow="w1-0-1", persona="careful", user="zoë@x.test",
                  wall=1790000000.1234567 + i)
    sink.close()
    old = [json.dumps({"src": "client", "wall": round(1790000000.1234567 + i, 6),
                       "st": round((1790000000.1234567 + i - 1790000000.0) * 100.0, 6), "type": "invoke",
                       "proc": "w1-0", "flow": "w1-0-1", "persona": "careful", "user": "zoë@x.test", "op": "verify",
                       "value": v}, separators=(",", ":"), default=str) for i, v in enumerate(values)]
    assert path.read_text(encoding="utf-8").splitlines() == old
