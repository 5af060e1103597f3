"""Flow-level numbers of a run, from its merged history: logins, login time, code delivery, loops.

Login times are scenario seconds (the `flow` lines' `duration_st`), as scenario files and
thresholds speak scenario time. One name per metric, as in the thresholds and Locust's summary:
`flow_*` is every login flow that finished (any outcome), `login_ok_*` only the successful ones. The code-delivery delay is what a user waits for: from the
portal's `code_issued` to the inbox's first `delivered` (wall times, so a portal clock jump
does not distort it, turned into scenario seconds with the inbox's own st/wall ratio); it
includes outbox retries and inbox delays. Without portal events: the inbox's
`delivered.st - received.st`; without inbox lines, the clients' `read_code` `delay_s`.
Percentiles are exact (nearest rank), so a known data set gives known numbers. A flow the run
cut short (an `info` flow line) counts under outcome "unknown", neither ok nor failed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SERIES_BIN_S = 60.0


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of the data at or below it."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class FlowData:
    """The raw series the metrics and the report's charts are made of."""

    flows: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)   # (st, outcome, value)
    login_s: list[float] = field(default_factory=list)          # successful logins, scenario s
    flow_s: list[float] = field(default_factory=list)           # every finished flow, scenario s
    delivery_s: list[float] = field(default_factory=list)       # code delivery delays
    resends: list[int] = field(default_factory=list)            # per login flow
    loops: int = 0
    loops_unbroken: int = 0


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def collect(lines: Iterable[dict[str, Any]]) -> FlowData:
    """One pass over the history, keeping only what the metrics need."""
    data = FlowData()
    issued_wall: dict[str, float] = {}
    received: dict[str, float] = {}
    delivered: dict[str, tuple[float, float]] = {}        # message -> (wall, st) of first delivery
    client_delays: list[float] = []
    for line in lines:
        src = line.get("src")
        if src == "client":
            op = line.get("op")
            value = line.get("value") if isinstance(line.get("value"), dict) else {}
            if op == "flow":
                outcome = str(value.get("outcome")) if line.get("type") != "info" else "unknown"
                data.flows.append((float(line.get("st", 0.0)), outcome, value))
                data.resends.append(int(value.get("resends") or 0))
                duration = _num(value.get("duration_st"))
                if duration is None:
                    duration = _num(value.get("duration_s"))
                if duration is not None and math.isfinite(duration) and outcome != "unknown":
                    data.flow_s.append(duration)
                    if outcome == "ok":
                        data.login_s.append(duration)
            elif op == "loop":
                data.loops += 1
                data.loops_unbroken += value.get("ended") == "loop"
            elif op == "read_code" and line.get("type") == "ok" and _num(value.get("delay_s")) is not None:
                client_delays.append(float(value["delay_s"]))
        elif src == "portal" and line.get("event") == "code_issued" and line.get("message_id") is not None:
            issued_wall.setdefault(_mid(line["message_id"]), float(line.get("wall", 0.0)))
        elif src == "inbox" and line.get("message_id") is not None and "st" in line:
            mid = _mid(line["message_id"])
            if line.get("event") == "received":
                received.setdefault(mid, float(line["st"]))
            elif line.get("event") == "delivered":
                delivered.setdefault(mid, (float(line.get("wall", 0.0)), float(line["st"])))
    scale = _inbox_scale(delivered.values())
    from_issue = [(wall - issued_wall[m]) * scale for m, (wall, _st) in delivered.items() if m in issued_wall]
    in_inbox = [st - received[m] for m, (_wall, st) in delivered.items() if m in received]
    data.delivery_s = [v for v in (from_issue or in_inbox or client_delays) if math.isfinite(v)]
    return data


def _mid(message_id: Any) -> str:
    return str(message_id).strip().strip("<>").strip()


def _inbox_scale(points: Iterable[tuple[float, float]]) -> float:
    """Scenario seconds per wall second, from the inbox's (wall, st) pairs; 1 when undecidable."""
    pts = sorted(points)
    if len(pts) < 2 or pts[-1][0] - pts[0][0] <= 1e-6:
        return 1.0
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


def _r(value: float | None) -> float | None:
    """Rounded for the verdict; never NaN or infinity (an absurd time scale must not break JSON)."""
    return None if value is None or not math.isfinite(value) else round(value, 3)


def outcome_series(data: FlowData, bin_s: float = SERIES_BIN_S) -> dict[str, Any]:
    """Login outcomes per scenario-time bin (a minute by default), for the report's time chart."""
    bins: dict[int, Counter[str]] = {}
    for st, outcome, _value in data.flows:
        if not math.isfinite(st):
            continue
        bins.setdefault(int(st // bin_s), Counter())[outcome] += 1
    if not bins:
        return {"bin_s": bin_s, "bins": []}
    first, last = min(bins), max(bins)
    return {"bin_s": bin_s, "bins": [{"t0": i * bin_s, "counts": dict(bins.get(i, {}))}
                                     for i in range(first, last + 1)]}


def flow_metrics(lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The verdict's `metrics`: logins, login-time and delivery percentiles, resends, loops, outcomes."""
    data = collect(lines)
    outcomes = Counter(outcome for _st, outcome, _v in data.flows)
    per_login = Counter(data.resends)
    return {
        "logins_ok": outcomes.get("ok", 0),
        "logins_failed": sum(n for outcome, n in outcomes.items() if outcome not in ("ok", "unknown")),
        "flow_p50_s": _r(percentile(data.flow_s, 50)),
        "flow_p95_s": _r(percentile(data.flow_s, 95)),
        "flow_p99_s": _r(percentile(data.flow_s, 99)),
        "login_ok_p50_s": _r(percentile(data.login_s, 50)),
        "login_ok_p95_s": _r(percentile(data.login_s, 95)),
        "login_ok_p99_s": _r(percentile(data.login_s, 99)),
        "code_delivery_p50_s": _r(percentile(data.delivery_s, 50)),
        "code_delivery_p99_s": _r(percentile(data.delivery_s, 99)),
        "resends": sum(data.resends),
        "loops": data.loops,
        "loops_unbroken": data.loops_unbroken,
        "outcomes": dict(sorted(outcomes.items())),
        "resends_per_login": {str(k): per_login[k] for k in sorted(per_login)},
        "outcome_series": outcome_series(data),
    }
