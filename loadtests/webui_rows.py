"""What the MFA tab shows, as rows of Locust's extended-tab table, plus the tab's time series.

Locust's tab is one table whose cells are text, so every kind of number has its own column
(`Status`, `Count` with `Count of` saying what is counted, `Share`, percentiles, `Note`) and the
charts over time are text sparklines (▁▂▃▄▅▆▇█) of a windowed p95, the latest value in the p95
column; `/mfa` draws the same series as SVG. Pure functions of the tab's data: testable alone.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from mfa_harness.checker import INVARIANTS, PREFIX_SAFE, Evidence, valid_label

PCTS = ("p50", "p90", "p95", "p99", "max")
# Locust's table sorts rows by their `name` unless a column header is clicked: rows carry their
# position as `name` (not a column) so the sections stay together, and the label is `item`.
TABLE = [{"key": "section", "title": "Section"}, {"key": "item", "title": "Name"},
         {"key": "status", "title": "Status"}, {"key": "count", "title": "Count"},
         {"key": "counted", "title": "Count of"}, {"key": "share", "title": "Share"},
         *({"key": p, "title": p} for p in PCTS), {"key": "note", "title": "Note"}]
COLUMNS = tuple(c["key"] for c in TABLE)
LABELS = {"flow": "flow: every login flow", "login_ok": "login_ok: successful login flows", "code_delivery": "code delivery", "code_wait": "waiting for a code",
          "resends": "resends per login"}
BARS = "▁▂▃▄▅▆▇█"
SERIES_POINTS = 1200          # points kept (one per refresh: an hour at 3 s)
SPARK_POINTS = 40             # points a sparkline shows (the latest)


def sparkline(values: list[float | None]) -> str:
    """`▁▃▇█▅` for the values (gaps as spaces), scaled between their own min and max."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else BARS[min(len(BARS) - 1, int((v - lo) / span * len(BARS)))] for v in values)


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile (the tab's windowed points; the table uses HDR histograms)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


class Series:
    """Login-flow and code-delivery p95 per refresh window (scenario seconds), over the run."""

    def __init__(self) -> None:
        self.points: deque[dict[str, Any]] = deque(maxlen=SERIES_POINTS)
        self.login: list[float] = []
        self.delivery: list[float] = []

    def add_flow(self, login_st: float | None, delivery_st: float | None) -> None:
        if login_st is not None:
            self.login.append(login_st)
        if delivery_st is not None:
            self.delivery.append(delivery_st)

    def close_window(self, t: float) -> None:
        """One point for the flows since the last one (`t`: wall seconds since the test started)."""
        lp, dp = p95(self.login), p95(self.delivery)
        self.points.append({"t": round(t, 1), "flows": len(self.login),
                            "login_ok_p95": None if lp is None else round(lp, 3),
                            "code_delivery_p95": None if dp is None else round(dp, 3)})
        self.login, self.delivery = [], []


# What the live check reads: client lines always, the portal's events when it answers (white box);
# never the inbox's deliveries or an accounts file.
LIVE_EVIDENCE = {"white box": {Evidence.CLIENT, Evidence.PORTAL}, "black box": {Evidence.CLIENT}}


def unknown_reason(name: str, result: dict[str, Any], check: dict[str, Any]) -> str:
    """Why invariant `name` is not (yet) valid or invalid, in a few words."""
    if check.get("checked_at") is None:
        return "not checked yet: the check runs while the tab is open, and once when the test stops"
    if result.get("undecided"):
        return f"{result['undecided']} cases the history cannot settle (e.g. an operation cut short)"
    mode = str(check.get("mode"))
    inv = INVARIANTS.get(name)
    missing = inv.missing(mode == "white box", LIVE_EVIDENCE.get(mode, ())) if inv else []
    if missing:
        return f"{mode}: needs {' and '.join(e.words for e in missing)}, which the live check does not read"
    return "no cases yet (nothing this invariant checks has happened)"


def invariant_cells(results: dict[str, dict[str, Any]], *, mode: str, checked_at: float | None,
                    live: bool) -> dict[str, dict[str, Any]]:
    """Each invariant's status, violations, first example and why it is not decided; `provisional` when
    the run goes on (`live`) and a later line could still undo an invalid (not prefix-safe)."""
    check = {"mode": mode, "checked_at": checked_at}
    out: dict[str, dict[str, Any]] = {}
    for name in [*INVARIANTS, *(n for n in results if n not in INVARIANTS)]:
        r = results.get(name)
        status = "not checked yet" if r is None else valid_label(r.get("valid"))
        out[name] = {"status": status, "violations": int((r or {}).get("violations") or 0),
                     "provisional": r is None or (live and name not in PREFIX_SAFE),
                     "example": ((r or {}).get("examples") or [None])[0],
                     "why": "" if status in ("valid", "invalid") else unknown_reason(name, r or {}, check)}
    return out


def _row(section: str, item: str, **cells: Any) -> dict[str, Any]:
    return {"section": section, "item": item, **dict.fromkeys(COLUMNS[2:], ""), **cells}


def rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The native tab's table for the tab data `d` (LiveView.build)."""
    out: list[dict[str, Any]] = []
    for name, p in d["percentiles"].items():
        base = name.removesuffix("_wall")
        unit = "" if p["unit"] == "count" else f" ({p['axis']} s)"
        out.append(_row("percentiles", LABELS.get(base, base) + unit, count=p["count"], counted="flows",
                        **{k: "" if p[k] is None else p[k] for k in PCTS}))
    points = list(d.get("series") or [])[-SPARK_POINTS:]
    for key, label in (("login_ok_p95", "login_ok.p95: successful login flows (scenario s)"), ("code_delivery_p95", "code delivery p95 (scenario s)")):
        values = [pt.get(key) for pt in points]
        known = [v for v in values if v is not None]
        note = f"{sparkline(values)}  {min(known):g}–{max(known):g} s over the last {len(points)} windows" if known else \
            "no data yet"
        out.append(_row("over time", label, count=sum(pt.get("flows", 0) for pt in points), counted="flows",
                        p95="" if not known else values[-1] if values[-1] is not None else "", note=note))
    flows = d["flows"] or 0
    for outcome, n in d["outcomes"].items():
        out.append(_row("outcome", outcome, count=n, counted="flows",
                        share=f"{100.0 * n / flows:.1f}%" if flows else ""))
    for name, n in d["loops"].items():
        out.append(_row("loops", name.replace("_", " "), count=n, counted="flows"))
    for expr, t in (d.get("thresholds") or {}).items():
        value = "no data" if t.get("value") is None else f"{t['value']:g}"
        out.append(_row("threshold", expr, status="met" if t.get("passed") else "missed",
                        note=f"now {value} (live; the verdict is the value at the end)"))
    c = d["check"]
    for name, r in d["invariants"].items():
        status = r["status"] + (" (so far)" if r["provisional"] and r["status"] == "invalid" else "")
        note = r.get("why") or ""
        out.append(_row("invariant", name, status=status, count=r["violations"], counted="violations", note=note))
    when = "final" if c["final"] else ("not run yet" if c["checked_at"] is None else "live")
    out.append(_row("check", f"{c['mode']}, {when}", status="error" if c["error"] else "ok", count=c["lines"],
                    counted="history lines", note=c["error"] or ""))
    out.append(_row("more", "./mfa: charts, the final check after the stop, counter-examples"))
    for i, row in enumerate(out):
        row["name"] = f"{i:04d}"
    return out
