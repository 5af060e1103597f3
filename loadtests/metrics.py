"""Flow-level metrics with exact percentiles (HDR histograms), mergeable across workers.

Locust's own response-time buckets keep two significant digits; a login flow that takes
4.96 s would read as 5 s. HDR histograms keep three digits at any magnitude and encode to a
short string, so a worker sends its histograms to the master at the end of a run and the
master adds them up exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST, HIGHEST, DIGITS = 1, 10**11, 3          # milliseconds, up to ~3 years
COUNT_HIGHEST = 10**6

# name -> (unit, description); durations are stored in milliseconds, counts as is
# `flow` is every login flow whatever its outcome (timeouts included); `login_ok` only those that
# ended signed in. The two used to share the name `login`, and a summary and a threshold of one run
# quoted different numbers under it (docs/interfaces.md "Metrics").
HISTOGRAMS: dict[str, tuple[str, str]] = {
    "flow": ("ms", "login flow duration, every outcome, scenario time"),
    "flow_wall": ("ms", "login flow duration, every outcome, wall time"),
    "login_ok": ("ms", "login flow duration, successful flows only, scenario time"),
    "login_ok_wall": ("ms", "login flow duration, successful flows only, wall time"),
    "code_delivery": ("ms", "portal answered -> code visible in the inbox (own codes), scenario time"),
    "code_delivery_wall": ("ms", "portal answered -> code visible in the inbox (own codes), wall time"),
    "code_wait": ("ms", "time a user spent waiting for a code, scenario time"),
    "code_wait_wall": ("ms", "time a user spent waiting for a code, wall time"),
    "resends": ("count", "resends per login flow"),
}
OUTCOMES = ("ok", "expired", "wrong_code", "too_many_attempts", "rate_limited", "loop", "no_code", "error",
            "cookies_blocked")
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def _new(name: str) -> HdrHistogram:
    return HdrHistogram(LOWEST, COUNT_HIGHEST if HISTOGRAMS[name][0] == "count" else HIGHEST, DIGITS)


class FlowMetrics:
    """Histograms, outcome counts and a few counters of one process (or, merged, of the run)."""

    def __init__(self) -> None:
        self.hist: dict[str, HdrHistogram] = {name: _new(name) for name in HISTOGRAMS}
        self.outcomes: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()   # loops, arrivals_started, arrivals_dropped, …
        self.sums: Counter[str] = Counter()       # recorded units per histogram: exact means, no bucket walk

    def record(self, name: str, value: float) -> None:
        """Record a duration in seconds (stored as ms) or a count; a value that is not finite (an absurd
        time scale) is clamped into the histogram's range, so no NaN or infinity reaches a summary."""
        top = COUNT_HIGHEST if HISTOGRAMS[name][0] == "count" else HIGHEST / 1000.0
        value = 0.0 if math.isnan(value) else min(max(value, 0.0), top)
        units = max(0, round(value * 1000.0)) if HISTOGRAMS[name][0] == "ms" else max(0, round(value))
        self.hist[name].record_value(units)
        self.sums[name] += units

    def record_flow(self, outcome: str, duration_s: float, scale: float, resends: int,
                    code_wait_s: float | None, delivery_delay_s: float | None) -> None:
        """One finished login transaction (wall seconds in, both time axes recorded)."""
        self.outcomes[outcome] += 1
        self.record("flow_wall", duration_s)
        self.record("flow", duration_s * scale)
        if outcome == "ok":
            self.record("login_ok_wall", duration_s)
            self.record("login_ok", duration_s * scale)
        self.record("resends", resends)
        if code_wait_s is not None:
            self.record("code_wait_wall", code_wait_s)
            self.record("code_wait", code_wait_s * scale)
        if delivery_delay_s is not None:
            self.record("code_delivery_wall", delivery_delay_s)
            self.record("code_delivery", delivery_delay_s * scale)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    # ---- merging across workers ----------------------------------------------------------
    def encode(self) -> dict[str, Any]:
        """A JSON-able snapshot: histograms as HDR's compressed base64 encoding."""
        return {"hist": {k: h.encode().decode("ascii") for k, h in self.hist.items() if h.get_total_count()},
                "outcomes": dict(self.outcomes), "counters": dict(self.counters), "sums": dict(self.sums)}

    def merge(self, data: dict[str, Any]) -> None:
        """Add another process's `encode()` snapshot to this one."""
        for name, encoded in (data.get("hist") or {}).items():
            if name in self.hist:
                self.hist[name].add(HdrHistogram.decode(encoded.encode("ascii")))
        self.outcomes.update(data.get("outcomes") or {})
        self.counters.update(data.get("counters") or {})
        self.sums.update(data.get("sums") or {})

    # ---- reading ---------------------------------------------------------------------------
    def flows(self) -> int:
        return sum(self.outcomes.values())

    def success_rate(self) -> float | None:
        n = self.flows()
        return self.outcomes.get("ok", 0) / n if n else None

    def stat(self, name: str, agg: str) -> float | None:
        """`agg` of histogram `name` in seconds (durations) or units (counts); None without data."""
        h = self.hist[name]
        n = h.get_total_count()
        if agg == "count":
            return float(n)
        if not n:
            return None
        if agg.startswith("p"):
            raw = float(h.get_value_at_percentile(float(agg[1:])))
        elif agg == "avg":
            raw = self.sums[name] / n
        elif agg == "max":
            raw = float(h.get_max_value())
        elif agg == "min":
            raw = float(h.get_min_value())
        else:
            raise KeyError(agg)
        return raw / 1000.0 if HISTOGRAMS[name][0] == "ms" else raw

    def summary(self) -> dict[str, Any]:
        """The `metrics` part of the JSON summary: seconds for durations."""
        out: dict[str, Any] = {}
        for name, (unit, desc) in HISTOGRAMS.items():
            row: dict[str, Any] = {"description": desc, "unit": "s" if unit == "ms" else "count",
                                   "count": self.hist[name].get_total_count()}
            for agg in ("min", "avg", "max"):
                v = self.stat(name, agg)
                row[agg] = None if v is None else round(v, 6)
            h = self.hist[name]
            at = h.get_percentile_to_value_dict(list(PERCENTILES)) if h.get_total_count() else {}
            div = 1000.0 if unit == "ms" else 1.0
            for p in PERCENTILES:                       # one walk over the buckets for all of them
                row[f"p{p:g}"] = round(at[p] / div, 6) if p in at else None
            out[name] = row
        return out
