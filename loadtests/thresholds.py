"""k6-style thresholds: `login.p95 < 8s`, `login.success_rate >= 0.99`, `loops == 0`, `http.p95 < 500ms`.

Parsed when Locust starts (a bad expression stops the run before any load, with a message
saying what is wrong) and evaluated at the end against the merged flow metrics and Locust's
request stats. Durations need a unit (`ms`, `s`, `m`); flow durations are scenario time,
`*_wall` metrics and `http.*` are wall time. A failed threshold makes Locust exit with 3.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .metrics import HISTOGRAMS, OUTCOMES, FlowMetrics

EXIT_THRESHOLD = 3

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
    "!=": operator.ne,
}
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_EXPR = re.compile(r"^\s*([A-Za-z_][\w.]*?)\s*(<=|>=|==|!=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*(ms|s|m|%)?\s*$")
_AGG = re.compile(r"^(p\d+(?:\.\d+)?|avg|min|max|count)$")
HTTP_AGGS = ("fail_ratio", "rps", "count", "failures", "avg", "min", "max")
COUNTERS = ("loops", "arrivals.started", "arrivals.dropped", "flows")

HELP = ("metrics: login.pNN|avg|min|max|count (scenario s), login.success_rate, login_wall.*, code_delivery.*, "
        "code_delivery_wall.*, code_wait.*, code_wait_wall.*, resends.*, loops, flows, outcome.<"
        + "|".join(OUTCOMES) + ">, arrivals.started, arrivals.dropped, http.fail_ratio, http.pNN|avg|min|max "
        "(wall), http.rps, http.count, http.failures")


class ThresholdError(ValueError):
    """A threshold expression that cannot be understood."""


@dataclass(frozen=True)
class Threshold:
    expr: str
    metric: str
    op: str
    limit: float
    is_duration: bool

    def check(self, value: float | None) -> bool:
        return value is not None and OPS[self.op](value, self.limit)


def _kind(metric: str) -> str:
    """'duration', 'ratio' or 'number'; ThresholdError for unknown metrics."""
    if metric in COUNTERS:
        return "number"
    head, _, agg = metric.partition(".")
    if head == "outcome":
        if agg not in OUTCOMES:
            raise ThresholdError(f"unknown outcome {agg!r} (known: {', '.join(OUTCOMES)})")
        return "number"
    if head == "login" and agg == "success_rate":
        return "ratio"
    if head == "http":
        if agg == "fail_ratio":
            return "ratio"
        if agg in ("rps", "count", "failures"):
            return "number"
        if _AGG.match(agg) and agg != "count":
            return "duration"
        raise ThresholdError(f"unknown http aggregate {agg!r} (use fail_ratio, rps, count, failures, pNN, avg, "
                             "min, max)")
    if head in HISTOGRAMS:
        if not _AGG.match(agg or ""):
            raise ThresholdError(f"{metric!r} needs an aggregate: {head}.p95, .avg, .min, .max or .count")
        if agg == "count" or HISTOGRAMS[head][0] == "count":
            return "number"
        return "duration"
    raise ThresholdError(f"unknown metric {metric!r}; {HELP}")


def parse(expr: str) -> Threshold:
    """Parse one expression; ThresholdError says what is wrong with it."""
    if not isinstance(expr, str) or not expr.strip():
        raise ThresholdError("empty threshold expression")
    m = _EXPR.match(expr)
    if not m:
        raise ThresholdError(f"cannot read threshold {expr!r}: expected METRIC OP NUMBER[UNIT], "
                             "e.g. \"login.p95 < 8s\" or \"loops == 0\"")
    metric, op, number, unit = m.groups()
    kind = _kind(metric)
    limit = float(number)
    if kind == "duration":
        if unit in (None, "%"):
            raise ThresholdError(f"threshold {expr!r}: {metric} is a duration, give a unit (ms, s or m)")
        limit *= UNITS[unit]
    elif unit == "%":
        if kind != "ratio":
            raise ThresholdError(f"threshold {expr!r}: % only applies to rates and ratios")
        limit /= 100.0
    elif unit is not None:
        raise ThresholdError(f"threshold {expr!r}: {metric} is not a duration, drop the unit {unit!r}")
    return Threshold(expr=expr.strip(), metric=metric, op=op, limit=limit, is_duration=kind == "duration")


MONOTONIC = ("loops", "flows", "arrivals.started", "arrivals.dropped", "http.count", "http.failures")


def can_abort_on(t: Threshold) -> bool:
    """Thresholds on counts that only grow, with an upper limit: once missed, missed for good."""
    growing = t.metric in MONOTONIC or t.metric.startswith("outcome.")
    return growing and t.op in ("<", "<=", "==")


def missed_for_good(t: Threshold, value: float | None) -> bool:
    """True when a growing count already broke an upper-limit threshold (checked while running)."""
    if value is None or not can_abort_on(t) or t.check(value):
        return False
    return t.op != "==" or value > t.limit


def parse_all(exprs: list[str] | str | None) -> list[Threshold]:
    """Repeated `--threshold` options (a list), or one `;`-separated string (Locust's web UI form)."""
    if isinstance(exprs, str):
        exprs = [e for e in exprs.split(";") if e.strip()]
    return [parse(e) for e in exprs or []]


def metric_value(metric: str, metrics: FlowMetrics, http: dict[str, float | None]) -> float | None:
    """The value a threshold compares: seconds for durations, plain numbers otherwise."""
    if metric == "loops":
        return float(metrics.counters.get("loops", 0))
    if metric == "flows":
        return float(metrics.flows())
    if metric.startswith("arrivals."):
        return float(metrics.counters.get("arrivals_" + metric.split(".", 1)[1], 0))
    head, _, agg = metric.partition(".")
    if head == "outcome":
        return float(metrics.outcomes.get(agg, 0))
    if metric == "login.success_rate":
        return metrics.success_rate()
    if head == "http":
        return http.get(agg)
    return metrics.stat(head, agg)


def http_values(total: Any) -> dict[str, float | None]:
    """Locust's aggregated request stats (portal requests only) in threshold units."""
    n = int(getattr(total, "num_requests", 0) or 0)
    out: dict[str, float | None] = {
        "count": float(n), "failures": float(getattr(total, "num_failures", 0) or 0),
        "fail_ratio": float(total.fail_ratio) if n else None,
        "rps": float(total.total_rps) if n else None,
        "avg": float(total.avg_response_time) / 1000.0 if n else None,
        "min": float(total.min_response_time or 0) / 1000.0 if n else None,
        "max": float(total.max_response_time) / 1000.0 if n else None,
    }
    return out


def http_percentile(total: Any, agg: str) -> float | None:
    if not getattr(total, "num_requests", 0):
        return None
    return float(total.get_response_time_percentile(float(agg[1:]) / 100.0)) / 1000.0


def evaluate(thresholds: list[Threshold], metrics: FlowMetrics, total: Any | None = None) -> dict[str, dict[str, Any]]:
    """expr -> {"passed", "value", "metric", "op", "limit"}; no data counts as not passed."""
    http = http_values(total) if total is not None else {}
    out: dict[str, dict[str, Any]] = {}
    for t in thresholds:
        head, _, agg = t.metric.partition(".")
        if head == "http" and _AGG.match(agg) and agg.startswith("p"):
            value = http_percentile(total, agg) if total is not None else None
        else:
            value = metric_value(t.metric, metrics, http)
        row: dict[str, Any] = {"passed": t.check(value), "value": None if value is None else round(value, 6),
                               "metric": t.metric, "op": t.op, "limit": t.limit}
        if value is None:
            row["note"] = "no data"
        out[t.expr] = row
    return out
