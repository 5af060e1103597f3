"""report.html: one self-contained page (inline CSS and SVG, no network) telling how a run went.

Verdict table with counter-examples, login-time and code-delivery histograms, login outcomes
over scenario time with the nemesis fault windows shaded, resends per login, and how to
reproduce the run. Charts are drawn here as plain SVG; every text goes through html.escape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from scenarios.checker import valid_label

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
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1 .pass{color:#2e7d32}h1 .fail{color:#c62828}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.valid{color:#2e7d32;font-weight:600}.invalid{color:#c62828;font-weight:600}
.unknown{color:#9e6c00;font-weight:600}pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:12px;margin:.3em 0}
code{background:#f3f3f3;padding:.1em .3em}svg{background:#fff;border:1px solid #ddd;margin:.3em 0 .3em;max-width:100%;height:auto}
ul.kv{margin:0;padding-left:1.1em}td.num{text-align:right;font-variant-numeric:tabular-nums}
.legend{margin:0 0 1.5em}.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border:1px solid #0002}
"""


def _fmt(value: Any) -> str:
    return "—" if value is None else fmt(value)


def _kv_html(value: Any) -> str:
    """A value as readable HTML: dicts and lists become nested `key: value` lists, never raw JSON."""
    if isinstance(value, dict):
        if not value:
            return "none"
        items = "".join(f"<li>{escape(str(k))}: {_kv_html(v)}</li>" for k, v in value.items())
        return f'<ul class="kv">{items}</ul>'
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return escape(", ".join(_fmt(v) for v in value))
        return '<ul class="kv">' + "".join(f"<li>{_kv_html(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(_fmt(value))


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
                 load_end: float | None = None) -> str:
    """Stacked login outcomes per scenario-time bin from 0 to the run's end, fault windows behind them."""
    times = [st for st, _o, _v in data.flows]
    if not times:
        return "<p>No login flows recorded.</p>"
    ends = [max(times), load_end or 0.0] + [w[0] for w in windows] + [w[1] for w in windows if w[1] is not None]
    bin_s = time_bin(max(ends))
    bins = outcome_series(data, bin_s)["bins"]
    t_end = max([b["t0"] + bin_s for b in bins] + [load_end or 0.0])
    chart = stacked_time_svg(bins, bin_s, OUTCOME_COLOURS, windows, t_end, load_end, "Login outcomes over time")
    seen = sorted({o for b in bins for o in b["counts"]}, key=lambda o: (o != "ok", o))
    legend = "".join(f'<span data-outcome="{escape(o)}"><i style="background:{OUTCOME_COLOURS.get(o, "#757575")}">'
                     f'</i>{escape(o)}</span>' for o in seen)
    if windows:
        legend += f'<span class="fault"><i style="background:{FAULT_FILL}"></i>fault window</span>'
    return chart + f'<div class="legend">{legend}</div>'


def resend_buckets(resends: list[int]) -> dict[str, int]:
    """Logins that needed resends, by how many: fixed buckets 1, 2, 3, 4, 5+ (empty ones kept)."""
    counts = dict.fromkeys(RESEND_BUCKETS, 0)
    for n in resends:
        if n > 0:
            counts[str(n) if n < 5 else "5+"] += 1
    return counts


def resends_html(resends: list[int]) -> str:
    """A sentence for the logins without a resend (most of them), a chart for the others."""
    if not resends:
        return "<p>No data for resends per login.</p>"
    none = sum(1 for n in resends if n == 0)
    text = (f"<p>{fmt(none)} of {fmt(len(resends))} logins ({100.0 * none / len(resends):.0f}%) needed no resend"
            + ("; the others:</p>" if none < len(resends) else ".</p>"))
    if none == len(resends):
        return text
    return text + bars_svg(resend_buckets(resends), "Resends per login", "resends in one login flow",
                           ylabel="logins with resends", share_of=len(resends))


def _examples_html(inv: dict[str, Any]) -> str:
    blocks = []
    for n, example in enumerate(inv.get("examples") or [], 1):
        body = "\n".join(json.dumps(line, indent=2, sort_keys=True, default=str) for line in example)
        blocks.append(f"<details><summary>example {n} ({len(example)} lines)</summary><pre>{escape(body)}</pre></details>")
    dups = inv.get("duplicate_examples") or []
    for n, example in enumerate(dups, 1):
        body = "\n".join(json.dumps(line, indent=2, sort_keys=True, default=str) for line in example)
        blocks.append(f"<details><summary>duplicate {n}</summary><pre>{escape(body)}</pre></details>")
    return "".join(blocks)


def _invariants_html(verdict: dict[str, Any]) -> str:
    rows = []
    for name, inv in (verdict.get("invariants") or {}).items():
        state = valid_label(inv.get("valid"))
        notes = {k: v for k, v in inv.items()
                 if k not in ("valid", "violations", "checked", "examples", "expected", "as_expected",
                              "duplicate_examples")}
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=\"{state}\">{state}</td>"
            f"<td>{escape(str(inv.get('expected', 'valid')))}</td>"
            f"<td>{'yes' if inv.get('as_expected', state != 'invalid') else '<b>no</b>'}</td>"
            f"<td>{escape(str(inv.get('violations', 0)))}</td><td>{escape(str(inv.get('checked', '')))}</td>"
            f"<td>{_kv_html(notes) if notes else ''}{_examples_html(inv)}</td></tr>")
    return ("<table><tr><th>invariant</th><th>answer</th><th>expected</th><th>as expected</th>"
            "<th>violations</th><th>cases checked</th><th>notes and counter-examples</th></tr>" + "".join(rows) + "</table>")


def _thresholds_html(verdict: dict[str, Any]) -> str:
    items = (verdict.get("thresholds") or {}).items()
    if not items:
        return "<p>No thresholds.</p>"
    rows = "".join(f"<tr><td><code>{escape(str(expr))}</code></td><td class=\"{'valid' if t.get('passed') else 'invalid'}\">"
                   f"{'met' if t.get('passed') else 'missed'}</td><td>{escape(threshold_text(t))}</td></tr>"
                   for expr, t in items)
    return f"<table><tr><th>threshold</th><th>result</th><th>value</th></tr>{rows}</table>"


def _metric_cell(key: str, value: Any) -> str:
    """A verdict metric's cell: `*_s` values are scenario seconds; dicts and lists as key: value text."""
    if isinstance(value, dict | list):
        return _kv_html(value)
    if key.endswith("_s") and value is not None:
        return escape(f"{_fmt(value)} s scenario time")
    return escape(_fmt(value))


def _metrics_html(metrics: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td{' class=num' if isinstance(v, int | float) else ''}>{_metric_cell(k, v)}</td></tr>"
                   for k, v in metrics.items() if k != "outcome_series")
    return f"<table>{rows}</table>"


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


def _unknown_html(unknown: dict[str, Any]) -> str:
    names = unknown.get("invariants") or []
    if not names:
        return "none"
    return (f"{escape(', '.join(map(str, names)))} (counted as {escape(str(unknown.get('counted_as', 'pass')))}"
            f"{', --strict' if unknown.get('strict') else ''})")


def render_report(verdict: dict[str, Any], lines: list[dict[str, Any]], load_end: float | None = None) -> str:
    """The whole page as a string."""
    data = collect(lines)
    windows = fault_windows(lines)
    passed = bool(verdict.get("passed"))
    scenario = escape(str(verdict.get("scenario", "?")))
    recorded = verdict.get("reproduce")
    load_end = load_end if load_end is not None else verdict.get("duration")
    sections = [
        f"<h1>{scenario}: <span class=\"{'pass' if passed else 'fail'}\">{'PASS' if passed else 'FAIL'}</span></h1>",
        "<table>"
        f"<tr><th>scenario</th><td>{scenario}</td></tr>"
        f"<tr><th>seed</th><td>{escape(str(verdict.get('seed')))}</td></tr>"
        f"<tr><th>time scale</th><td>{escape(str(verdict.get('time_scale')))} "
        f"(scenario seconds per wall second; all times below are scenario time)</td></tr>"
        f"<tr><th>planted bugs</th><td>{escape(', '.join(map(str, verdict.get('bugs') or [])) or 'none')}</td></tr>"
        f"<tr><th>expected</th><td>{_kv_html(verdict.get('expected', {}))}</td></tr>"
        f"<tr><th>unknown answers</th><td>{_unknown_html(verdict.get('unknown') or {})}</td></tr>"
        f"<tr><th>reproduce</th><td><code>{escape(reproduce_command(verdict))}</code>"
        + (f"<br>as run: <code>{escape(str(recorded))}</code>" if recorded else "") + "</td></tr>"
        + "".join(f"<tr><th>PROBLEM</th><td class=\"fail\">{escape(str(p))}</td></tr>"
                  for p in verdict.get("problems") or []) + "</table>",
        "<h2>Invariants</h2>", _invariants_html(verdict),
        "<h2>Thresholds</h2>", _thresholds_html(verdict),
        "<h2>Metrics</h2>", _metrics_html(verdict.get("metrics") or {}),
        "<h2>Login time</h2>",
        histogram_svg(data.login_s, "Login time distribution",
                      "login_ok: scenario seconds from sign-in to account page, successful flows"),
        "<h2>Code delivery delay</h2>",
        histogram_svg(data.delivery_s, "Code delivery delay distribution", "scenario seconds from code issued to delivered"),
        "<h2>Login outcomes over time</h2>", outcomes_svg(data, windows, load_end),
        "<h2>Resends per login</h2>", resends_html(data.resends),
        "<h2>Faults</h2>", _faults_html(verdict, windows),
    ]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>mfa-harness: {scenario}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def _faults_html(verdict: dict[str, Any], windows: list[tuple[float, float | None, str]]) -> str:
    rows = "".join(f"<tr><td>{escape(label)}</td><td>{escape(_fmt(start))}</td><td>{escape(_fmt(stop))}</td></tr>"
                   for start, stop, label in windows)
    plan = verdict.get("faults") or []
    plan_html = _plan_html(plan)
    table = (f"<table><tr><th>fault</th><th>start (scenario s)</th><th>stop</th></tr>{rows}</table>"
             if rows else "<p>No fault windows recorded.</p>")
    return table + plan_html


def _plan_html(plan: list[Any]) -> str:
    """The fault plan and nemesis steps as a table: kind, recipients, window, the other settings."""
    if not plan:
        return "<p>No fault plan.</p>"
    rows = []
    for step in plan:
        step = step if isinstance(step, dict) else {"step": step}
        rest = {k: v for k, v in step.items() if k not in ("kind", "action", "to", "start", "end", "at")}
        rows.append(f"<tr><td>{escape(str(step.get('kind') or step.get('action') or '?'))}</td>"
                    f"<td>{escape(str(step.get('to') or 'all'))}</td>"
                    f"<td>{escape(_fmt(step.get('start', step.get('at'))))}</td><td>{escape(_fmt(step.get('end')))}</td>"
                    f"<td>{_kv_html(rest) if rest else ''}</td></tr>")
    return ("<table><tr><th>planned fault</th><th>recipients</th><th>from (scenario s)</th><th>until</th>"
            "<th>settings</th></tr>" + "".join(rows) + "</table>")


def write_report(verdict: dict[str, Any], lines: list[dict[str, Any]], path: str | Path,
                 load_end: float | None = None) -> None:
    """Write report.html next to the verdict (UTF-8, no external resources); `load_end` is the
    scenario second the load stopped (the run's duration), marked on the time chart."""
    Path(path).write_text(render_report(verdict, lines, load_end), encoding="utf-8")
