"""report.html: one self-contained page (inline CSS and SVG, no network) telling how a run went.

Verdict table with counter-examples, the policy the run was judged against (rule, value, origin),
the portal's 5xx and unclassified answers (with excerpts of the pages), login-time and
code-delivery histograms, login outcomes over scenario time with the nemesis fault windows
shaded, resends per login, and how to reproduce the run. The page is templates/report.html (tornado.template, autoescaped: every value
is escaped unless the template says `raw`, which only the SVG charts and nested templates are);
the charts are SVG from templates/*.svg, their geometry computed by charts.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tornado.template import Loader

from mfa_harness.checker import valid_label

from .charts import FAULT_FILL, bars_svg, fmt, histogram_svg, stacked_time_svg, time_bin
from .metrics import FlowData, collect, outcome_series
from .verdict import threshold_text

__all__ = ["bars_svg", "fault_windows", "histogram_svg", "outcomes_svg", "render_report", "write_report"]
OUTCOME_COLOURS = {
    "ok": "#2e7d32", "expired": "#ef6c00", "wrong_code": "#c62828", "too_many_attempts": "#8e24aa",
    "rate_limited": "#6d4c41", "loop": "#d81b60", "no_code": "#f9a825", "error": "#455a64",
    "cookies_blocked": "#00838f", "unknown": "#9e9e9e",
}
RESEND_BUCKETS = ("1", "2", "3", "4", "5+")
_TEMPLATES = Loader(str(Path(__file__).parent / "templates"), autoescape="xhtml_escape")


def _fmt(value: Any) -> str:
    return "—" if value is None else fmt(value)




def fault_windows(lines: Iterable[dict[str, Any]]) -> list[tuple[float, float | None, str]]:
    """(start st, stop st or None when still open, label) for each nemesis start/stop pair."""
    open_at: dict[str, tuple[float, str]] = {}
    windows: list[tuple[float, float | None, str]] = []
    for line in lines:
        if line.get("src") != "nemesis":
            continue
        fault = line.get("fault") or {}
        key = json.dumps(fault, sort_keys=True, default=str)
        if line.get("op") == "start":
            open_at[key] = (float(line.get("st", 0.0)), str(fault.get("kind", "fault")))
        elif line.get("op") == "stop" and key in open_at:
            start, label = open_at.pop(key)
            windows.append((start, float(line.get("st", start)), label))
    windows.extend((start, None, label) for start, label in open_at.values())
    return sorted(windows, key=lambda w: w[0])


def outcomes_svg(data: FlowData, windows: list[tuple[float, float | None, str]],
                 load_end: float | None = None) -> tuple[str | None, list[tuple[str, str]]]:
    """Stacked login outcomes per scenario-time bin from 0 to the run's end, fault windows behind
    them, and the legend's (outcome, colour) pairs; (None, []) when no flow was recorded."""
    times = [st for st, _o, _v in data.flows]
    if not times:
        return None, []
    ends = [max(times), load_end or 0.0] + [w[0] for w in windows] + [w[1] for w in windows if w[1] is not None]
    bin_s = time_bin(max(ends))
    bins = outcome_series(data, bin_s)["bins"]
    t_end = max([b["t0"] + bin_s for b in bins] + [load_end or 0.0])
    chart = stacked_time_svg(bins, bin_s, OUTCOME_COLOURS, windows, t_end, load_end, "Login outcomes over time")
    seen = sorted({o for b in bins for o in b["counts"]}, key=lambda o: (o != "ok", o))
    return chart, [(o, OUTCOME_COLOURS.get(o, "#757575")) for o in seen]


def resend_buckets(resends: list[int]) -> dict[str, int]:
    """Logins that needed resends, by how many: fixed buckets 1, 2, 3, 4, 5+ (empty ones kept)."""
    counts = dict.fromkeys(RESEND_BUCKETS, 0)
    for n in resends:
        if n > 0:
            counts[str(n) if n < 5 else "5+"] += 1
    return counts


def resends_chart(resends: list[int]) -> str:
    """The chart of logins that needed resends (the page says how many needed none)."""
    return bars_svg(resend_buckets(resends), "Resends per login", "resends in one login flow",
                    ylabel="logins with resends", share_of=len(resends))


def _examples(inv: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, JSON lines) for each counter-example and each duplicate of one invariant."""
    def body(example: list[Any]) -> str:
        return "\n".join(json.dumps(line, indent=2, sort_keys=True, default=str) for line in example)
    return ([(f"example {n} ({len(ex)} lines)", body(ex)) for n, ex in enumerate(inv.get("examples") or [], 1)]
            + [(f"duplicate {n}", body(ex)) for n, ex in enumerate(inv.get("duplicate_examples") or [], 1)])


def _invariant_rows(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, inv in (verdict.get("invariants") or {}).items():
        state = valid_label(inv.get("valid"))
        notes = {k: v for k, v in inv.items()
                 if k not in ("valid", "violations", "checked", "examples", "expected", "as_expected",
                              "duplicate_examples")}
        rows.append({"name": name, "state": state, "expected": str(inv.get("expected", "valid")),
                     "as_expected": inv.get("as_expected", state != "invalid"),
                     "violations": str(inv.get("violations", 0)), "checked": str(inv.get("checked", "")),
                     "notes": notes, "examples": _examples(inv)})
    return rows


def _plan_rows(plan: list[Any]) -> list[dict[str, Any]]:
    """The fault plan and nemesis steps: kind, recipients, window, the other settings."""
    rows = []
    for step in plan:
        step = step if isinstance(step, dict) else {"step": step}
        rows.append({"kind": str(step.get("kind") or step.get("action") or "?"), "to": str(step.get("to") or "all"),
                     "start": step.get("start", step.get("at")), "end": step.get("end"),
                     "settings": {k: v for k, v in step.items()
                                  if k not in ("kind", "action", "to", "start", "end", "at")}})
    return rows


def reproduce_command(verdict: dict[str, Any]) -> str:
    """The command that reruns this scenario with the same seed, time scale and planted bugs."""
    parts = ["mfa-harness", "run", str(verdict.get("scenario", "?"))]
    if verdict.get("seed") is not None:
        parts += ["--seed", str(verdict["seed"])]
    if verdict.get("time_scale") is not None:
        parts += ["--time-scale", str(verdict["time_scale"])]
    for bug in verdict.get("bugs") or []:
        parts += ["--bug", str(bug)]
    return " ".join(parts)


def render_report(verdict: dict[str, Any], lines: list[dict[str, Any]], load_end: float | None = None) -> str:
    """The whole page as a string: the data is gathered here, the markup is templates/report.html."""
    data = collect(lines)
    windows = fault_windows(lines)
    load_end = load_end if load_end is not None else verdict.get("duration")
    unknown = verdict.get("unknown") or {}
    outcomes_chart, outcomes_legend = outcomes_svg(data, windows, load_end)
    none = sum(1 for n in data.resends if n == 0)
    page = _TEMPLATES.load("report.html").generate(
        kv=_kv, fmt=_fmt, scenario=str(verdict.get("scenario", "?")), passed=bool(verdict.get("passed")),
        seed=str(verdict.get("seed")), time_scale=str(verdict.get("time_scale")),
        bugs=", ".join(map(str, verdict.get("bugs") or [])) or "none", expected=verdict.get("expected", {}),
        unknown_names=", ".join(map(str, unknown.get("invariants") or [])),
        counted_as=str(unknown.get("counted_as", "pass")), strict=unknown.get("strict"),
        reproduce=reproduce_command(verdict), recorded=verdict.get("reproduce"),
        problems=[str(p) for p in verdict.get("problems") or []], invariants=_invariant_rows(verdict),
        thresholds=[(str(expr), t.get("passed"), threshold_text(t))
                    for expr, t in (verdict.get("thresholds") or {}).items()],
        metrics=[(k, v) for k, v in (verdict.get("metrics") or {}).items() if k != "outcome_series"],
        login_chart=histogram_svg(data.login_s, "Login time distribution",
                                  "login_ok: scenario seconds from sign-in to account page, successful flows"),
        delivery_chart=histogram_svg(data.delivery_s, "Code delivery delay distribution",
                                     "scenario seconds from code issued to delivered"),
        outcomes_chart=outcomes_chart, outcomes_legend=outcomes_legend, windows=windows, fault_fill=FAULT_FILL,
        resends=data.resends, resends_none=none,
        resends_chart=resends_chart(data.resends) if none < len(data.resends) else "",
        plan=_plan_rows(verdict.get("faults") or []), policy=verdict.get("policy") or {},
        answers=verdict.get("server_answers") or {},
        unclassified=(verdict.get("server_answers") or {}).get("unclassified_examples") or [])
    return page.decode("utf-8")


def _kv(value: Any) -> str:
    """A value as readable HTML (templates/kv.html): nested `key: value` lists, never raw JSON."""
    return _TEMPLATES.load("kv.html").generate(value=value, kv=_kv, fmt=_fmt).decode("utf-8")


def write_report(verdict: dict[str, Any], lines: list[dict[str, Any]], path: str | Path,
                 load_end: float | None = None) -> None:
    """Write report.html next to the verdict (UTF-8, no external resources); `load_end` is the
    scenario second the load stopped (the run's duration), marked on the time chart."""
    Path(path).write_text(render_report(verdict, lines, load_end), encoding="utf-8")
