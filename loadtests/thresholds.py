"""k6-style thresholds: `flow.p95 < 8s`, `flow.success_rate >= 0.99`, `loops == 0`, `http.p95 < 500ms`.

Parsed when Locust starts (a bad expression stops the run before any load, with a message
saying what is wrong) and when `mfa-harness` reads a scenario file, and evaluated at the end
against the merged flow metrics and Locust's request stats. Durations need a unit (`ms`, `s`,
`m`, `h`, `d`: the project's one duration syntax, `mfa_harness.durations`); flow durations
are scenario time, `*_wall` metrics and `http.*` are wall time. A failed threshold makes Locust exit with 3.

One name per metric: `flow.*` is every login flow (any outcome, timeouts included), `login_ok.*`
the successful ones. The old `login.*` / `login_wall.*` meant every flow and still work as
deprecated aliases of `flow.*` / `flow_wall.*`.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mfa_harness.durations import UNIT_NAMES, UNITS, to_seconds

from .metrics import HISTOGRAMS, OUTCOMES, FlowMetrics

EXIT_THRESHOLD = 3

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
    "!=": operator.ne,
}
_UNIT = "|".join(sorted(UNITS, key=len, reverse=True)) + "|%"     # longest first: `ms` before `m`
_EXPR = re.compile(rf"^\s*([A-Za-z_][\w.]*?)\s*(<=|>=|==|!=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*({_UNIT})?\s*$")
_SHAPE = re.compile(r"^\s*([A-Za-z_][\w.]*?)\s*([^\w\s.+-]+)\s*([-+]?\d[\w.%]*)\s*$")
_AGG = re.compile(r"^(p\d+(?:\.\d+)?|avg|min|max|count)$")
HTTP_AGGS = ("fail_ratio", "rps", "count", "failures", "avg", "min", "max")
COUNTERS = ("loops", "arrivals.started", "arrivals.dropped", "flows")
# deprecated name -> the one name it stands for now
ALIASES = {"login": "flow", "login_wall": "flow_wall"}

HELP = ("metrics: flow.pNN|avg|min|max|count (every login flow, scenario s), flow.success_rate, flow_wall.*, "
        "login_ok.* and login_ok_wall.* (successful flows only), code_delivery.*, "
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
    deprecated: str = ""       # a note when the expression used an old metric name

    @property
    def unit(self) -> str:
        """How a value of this metric reads: seconds on a stated time axis, or a plain number."""
        if not self.is_duration:
            return ""
        wall = self.metric.startswith("http.") or self.metric.split(".")[0].endswith("_wall")
        return "s wall time" if wall else "s scenario time"

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
    if head == "flow" and agg == "success_rate":
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
    known = [*COUNTERS, "flow.success_rate", *(f"{h}.p95" for h in HISTOGRAMS), "http.p95", "http.fail_ratio",
             *(f"outcome.{o}" for o in OUTCOMES)]
    close = difflib.get_close_matches(metric, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ThresholdError(f"unknown metric {metric!r}; {hint}{HELP}")


def canonical(metric: str) -> tuple[str, str]:
    """(the metric's one name, a deprecation note or '') for a name as written."""
    head, dot, agg = metric.partition(".")
    if head in ALIASES:
        new = ALIASES[head] + dot + agg
        ok = "" if agg == "success_rate" else \
            f" (or 'login_ok{'_wall' if head.endswith('_wall') else ''}.{agg}' for successful flows only)"
        return new, f"metric {metric!r} is deprecated: it means every login flow, write {new!r}{ok}"
    return metric, ""


def parse(expr: str) -> Threshold:
    """Parse one expression; ThresholdError says what is wrong with it."""
    if not isinstance(expr, str) or not expr.strip():
        raise ThresholdError("empty threshold expression")
    m = _EXPR.match(expr)
    if not m:
        shape = _SHAPE.match(expr)
        if shape and shape.group(2) not in OPS:
            raise ThresholdError(f"threshold {expr!r}: unknown operator {shape.group(2)!r} "
                                 f"(use one of {' '.join(OPS)})")
        if shape and not re.fullmatch(rf"[-+]?\d+(?:\.\d+)?({_UNIT})?", shape.group(3)):
            raise ThresholdError(f"threshold {expr!r}: cannot read {shape.group(3)!r} as a number with an "
                                 f"optional unit ({UNIT_NAMES.replace(' or ', ', ')} or %)")
        raise ThresholdError(f"cannot read threshold {expr!r}: expected METRIC OP NUMBER[UNIT], "
                             "e.g. \"flow.p95 < 8s\" or \"loops == 0\"")
    written, op, number, unit = m.groups()
    metric, deprecated = canonical(written)
    kind = _kind(metric)
    limit = float(number)
    if kind == "duration":
        if unit in (None, "%"):
            raise ThresholdError(f"threshold {expr!r}: {metric} is a duration, give a unit ({UNIT_NAMES})")
        limit = to_seconds(limit, unit)
    elif unit == "%":
        if kind != "ratio":
            raise ThresholdError(f"threshold {expr!r}: % only applies to rates and ratios")
        limit /= 100.0
    elif unit is not None:
        raise ThresholdError(f"threshold {expr!r}: {metric} is not a duration, drop the unit {unit!r}")
    return Threshold(expr=expr.strip(), metric=metric, op=op, limit=limit, is_duration=kind == "duration",
                     deprecated=deprecated)


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
    if metric == "flow.success_rate":
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
        if value is not None and not math.isfinite(value):
            value = None               # never NaN or infinity in a summary or a verdict
        row: dict[str, Any] = {"passed": t.check(value), "value": None if value is None else round(value, 6),
                               "metric": t.metric, "op": t.op, "limit": t.limit, "unit": t.unit}
        if value is None:
            row["note"] = "no data"
        out[t.expr] = row
    return out
