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

from .metrics import SERIES_BIN_S, FlowData, collect, outcome_series

W, H, PAD_L, PAD_B, PAD_T = 640, 230, 48, 34, 26
OUTCOME_COLOURS = {
    "ok": "#2e7d32", "expired": "#ef6c00", "wrong_code": "#c62828", "too_many_attempts": "#8e24aa",
    "rate_limited": "#6d4c41", "loop": "#d81b60", "no_code": "#f9a825", "error": "#455a64",
    "cookies_blocked": "#00838f", "unknown": "#9e9e9e",
}
FAULT_COLOUR = "#ef9a9a"
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1 .pass{color:#2e7d32}h1 .fail{color:#c62828}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.valid{color:#2e7d32;font-weight:600}.invalid{color:#c62828;font-weight:600}
.unknown{color:#9e6c00;font-weight:600}pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:12px;margin:.3em 0}
code{background:#f3f3f3;padding:.1em .3em}svg{background:#fff;border:1px solid #ddd;margin:.3em 0 1em}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return "—" if value is None else str(value)


def _state(value: Any) -> str:
    return {True: "valid", False: "invalid"}.get(value, "unknown") if isinstance(value, bool) else "unknown"


def _axes(x0: float, x1: float, y1: float, xlabel: str, ylabel: str) -> list[str]:
    """Frame, a few ticks on both axes and their labels."""
    parts = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 8}" y2="{H - PAD_B}" stroke="#444"/>',
             f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#444"/>']
    for i in range(5):
        xv = x0 + (x1 - x0) * i / 4
        x = PAD_L + (W - 8 - PAD_L) * i / 4
        parts.append(f'<text x="{x:.1f}" y="{H - PAD_B + 14}" font-size="10" text-anchor="middle">'
                     f'{escape(_fmt(round(xv, 2)))}</text>')
        yv = y1 * i / 4
        y = H - PAD_B - (H - PAD_B - PAD_T) * i / 4
        parts.append(f'<text x="{PAD_L - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">'
                     f'{escape(_fmt(round(yv, 1)))}</text>')
    parts.append(f'<text x="{(W + PAD_L) / 2}" y="{H - 4}" font-size="11" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(f'<text x="{PAD_L}" y="12" font-size="11">{escape(ylabel)}</text>')
    return parts


def _svg(parts: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>')


def histogram_svg(values: list[float], title: str, xlabel: str, bins: int = 20) -> str:
    """Counts of `values` in equal-width bins between their min and max."""
    if not values:
        return f"<p>No data for {escape(title.lower())}.</p>"
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):          # one value (up to float noise): one centred bar
        lo, hi = lo - 0.5, lo + 0.5
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    top = max(counts)
    plot_w, plot_h = W - 8 - PAD_L, H - PAD_B - PAD_T
    parts = _axes(lo, lo + width * bins, top, xlabel, "logins" if "login" in title.lower() else "count")
    for i, n in enumerate(counts):
        bh = plot_h * n / top
        x = PAD_L + plot_w * i / bins
        parts.append(f'<rect x="{x + 1:.1f}" y="{H - PAD_B - bh:.1f}" width="{plot_w / bins - 2:.1f}" '
                     f'height="{bh:.1f}" fill="#1565c0"><title>{escape(_fmt(lo + i * width))}–'
                     f'{escape(_fmt(lo + (i + 1) * width))}: {n}</title></rect>')
    return _svg(parts, title)


def bars_svg(counts: dict[str, int], title: str, xlabel: str) -> str:
    """One bar per category (e.g. number of resends in a login)."""
    if not counts:
        return f"<p>No data for {escape(title.lower())}.</p>"
    keys = list(counts)
    top = max(counts.values()) or 1
    plot_w, plot_h = W - 8 - PAD_L, H - PAD_B - PAD_T
    step = plot_w / len(keys)
    parts = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 8}" y2="{H - PAD_B}" stroke="#444"/>',
             f'<text x="{(W + PAD_L) / 2}" y="{H - 4}" font-size="11" text-anchor="middle">{escape(xlabel)}</text>']
    for i, key in enumerate(keys):
        bh = plot_h * counts[key] / top
        x = PAD_L + step * i
        parts.append(f'<rect x="{x + 2:.1f}" y="{H - PAD_B - bh:.1f}" width="{max(step - 4, 1):.1f}" '
                     f'height="{bh:.1f}" fill="#6a1b9a"><title>{escape(key)}: {counts[key]}</title></rect>')
        parts.append(f'<text x="{x + step / 2:.1f}" y="{H - PAD_B + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(key)}</text>')
        parts.append(f'<text x="{x + step / 2:.1f}" y="{H - PAD_B - bh - 3:.1f}" font-size="10" '
                     f'text-anchor="middle">{counts[key]}</text>')
    return _svg(parts, title)


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


def time_bin(span: float) -> float:
    """A readable bin width giving about 20 bars over `span` scenario seconds; a minute at most."""
    for width in (1.0, 2.0, 5.0, 10.0, 15.0, 30.0):
        if span / width <= 25:
            return width
    return SERIES_BIN_S


def outcomes_svg(data: FlowData, windows: list[tuple[float, float | None, str]]) -> str:
    """Stacked login outcomes per scenario-time bin, fault windows shaded over them."""
    times = [st for st, _o, _v in data.flows] + [w[0] for w in windows] + [w[1] for w in windows if w[1] is not None]
    if not times:
        return "<p>No login flows recorded.</p>"
    t0 = min(times + [0.0])
    bin_s = time_bin(max(times) - t0)
    bins = outcome_series(data, bin_s)["bins"]
    t_end = max([b["t0"] + bin_s for b in bins] + times) or bin_s
    top = max([sum(b["counts"].values()) for b in bins] + [1])
    plot_w, plot_h = W - 8 - PAD_L, H - PAD_B - PAD_T

    def x_of(t: float) -> float:
        return PAD_L + plot_w * (t - t0) / (t_end - t0)

    parts = _axes(t0, t_end, top, "scenario time (s)", f"logins per {_fmt(bin_s)} s")
    bar_w = plot_w * bin_s / (t_end - t0)
    for b in bins:
        y = H - PAD_B
        for outcome in sorted(b["counts"], key=lambda o: (o != "ok", o)):
            n = b["counts"][outcome]
            bh = plot_h * n / top
            y -= bh
            colour = OUTCOME_COLOURS.get(outcome, "#757575")
            parts.append(f'<rect x="{x_of(b["t0"]) + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                         f'height="{bh:.1f}" fill="{colour}"><title>{escape(_fmt(b["t0"]))} s: '
                         f'{escape(outcome)} {n}</title></rect>')
    for start, stop, label in windows:
        x1, x2 = x_of(start), x_of(stop if stop is not None else t_end)
        parts.append(f'<rect x="{x1:.1f}" y="{PAD_T}" width="{max(x2 - x1, 1.5):.1f}" height="{plot_h}" '
                     f'fill="{FAULT_COLOUR}" fill-opacity="0.35" stroke="#c62828" stroke-dasharray="3,2">'
                     f'<title>{escape(label)}: {escape(_fmt(start))}–{escape(_fmt(stop))} s</title></rect>')
        parts.append(f'<text x="{x1 + 2:.1f}" y="{PAD_T + 10}" font-size="9" fill="#b71c1c">{escape(label)}</text>')
    seen = sorted({o for b in bins for o in b["counts"]})
    legend = "".join(f'<span><i style="background:{OUTCOME_COLOURS.get(o, "#757575")}"></i>{escape(o)}</span>'
                     for o in seen)
    return _svg(parts, "Login outcomes over time") + f'<div class="legend">{legend}' \
        f'<span><i style="background:{FAULT_COLOUR}"></i>fault window</span></div>'


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
        state = _state(inv.get("valid"))
        notes = {k: v for k, v in inv.items()
                 if k not in ("valid", "violations", "checked", "examples", "expected", "as_expected",
                              "duplicate_examples")}
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=\"{state}\">{state}</td>"
            f"<td>{escape(str(inv.get('expected', 'valid')))}</td>"
            f"<td>{'yes' if inv.get('as_expected', state != 'invalid') else '<b>no</b>'}</td>"
            f"<td>{escape(str(inv.get('violations', 0)))}</td><td>{escape(str(inv.get('checked', '')))}</td>"
            f"<td>{escape(json.dumps(notes, sort_keys=True, default=str)) if notes else ''}{_examples_html(inv)}</td></tr>")
    return ("<table><tr><th>invariant</th><th>answer</th><th>expected</th><th>as expected</th>"
            "<th>violations</th><th>cases checked</th><th>notes and counter-examples</th></tr>" + "".join(rows) + "</table>")


def _thresholds_html(verdict: dict[str, Any]) -> str:
    items = (verdict.get("thresholds") or {}).items()
    if not items:
        return "<p>No thresholds.</p>"
    rows = "".join(f"<tr><td><code>{escape(str(expr))}</code></td><td class=\"{'valid' if t.get('passed') else 'invalid'}\">"
                   f"{'met' if t.get('passed') else 'missed'}</td><td>{escape(_fmt(t.get('value')))}</td></tr>"
                   for expr, t in items)
    return f"<table><tr><th>threshold</th><th>result</th><th>value</th></tr>{rows}</table>"


def _metrics_html(metrics: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v) if not isinstance(v, dict) else json.dumps(v))}</td></tr>"
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


def render_report(verdict: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """The whole page as a string."""
    data = collect(lines)
    windows = fault_windows(lines)
    passed = bool(verdict.get("passed"))
    scenario = escape(str(verdict.get("scenario", "?")))
    recorded = verdict.get("reproduce")
    per_login = {str(k): v for k, v in sorted(_resend_counts(data).items())}
    sections = [
        f"<h1>{scenario}: <span class=\"{'pass' if passed else 'fail'}\">{'PASS' if passed else 'FAIL'}</span></h1>",
        "<table>"
        f"<tr><th>scenario</th><td>{scenario}</td></tr>"
        f"<tr><th>seed</th><td>{escape(str(verdict.get('seed')))}</td></tr>"
        f"<tr><th>time scale</th><td>{escape(str(verdict.get('time_scale')))} "
        f"(scenario seconds per wall second; all times below are scenario time)</td></tr>"
        f"<tr><th>planted bugs</th><td>{escape(', '.join(map(str, verdict.get('bugs') or [])) or 'none')}</td></tr>"
        f"<tr><th>expected</th><td>{escape(json.dumps(verdict.get('expected', {})))}</td></tr>"
        f"<tr><th>unknown answers</th><td>{escape(json.dumps(verdict.get('unknown', {})))}</td></tr>"
        f"<tr><th>reproduce</th><td><code>{escape(reproduce_command(verdict))}</code>"
        + (f"<br>as run: <code>{escape(str(recorded))}</code>" if recorded else "") + "</td></tr></table>",
        "<h2>Invariants</h2>", _invariants_html(verdict),
        "<h2>Thresholds</h2>", _thresholds_html(verdict),
        "<h2>Metrics</h2>", _metrics_html(verdict.get("metrics") or {}),
        "<h2>Login time</h2>",
        histogram_svg(data.login_s, "Login time distribution", "scenario seconds from sign-in to account page"),
        "<h2>Code delivery delay</h2>",
        histogram_svg(data.delivery_s, "Code delivery delay distribution", "scenario seconds from code issued to delivered"),
        "<h2>Login outcomes over time</h2>", outcomes_svg(data, windows),
        "<h2>Resends per login</h2>", bars_svg(per_login, "Resends per login", "resends in one login flow"),
        "<h2>Faults</h2>", _faults_html(verdict, windows),
    ]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>mfa-harness: {scenario}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def _resend_counts(data: FlowData) -> dict[int, int]:
    counts: dict[int, int] = {}
    for n in data.resends:
        counts[n] = counts.get(n, 0) + 1
    return counts


def _faults_html(verdict: dict[str, Any], windows: list[tuple[float, float | None, str]]) -> str:
    rows = "".join(f"<tr><td>{escape(label)}</td><td>{escape(_fmt(start))}</td><td>{escape(_fmt(stop))}</td></tr>"
                   for start, stop, label in windows)
    plan = verdict.get("faults") or []
    plan_html = (f"<pre>{escape(json.dumps(plan, indent=2, default=str))}</pre>" if plan else "<p>No fault plan.</p>")
    table = (f"<table><tr><th>fault</th><th>start (scenario s)</th><th>stop</th></tr>{rows}</table>"
             if rows else "<p>No fault windows recorded.</p>")
    return table + plan_html


def write_report(verdict: dict[str, Any], lines: list[dict[str, Any]], path: str | Path) -> None:
    """Write report.html next to the verdict (UTF-8, no external resources)."""
    Path(path).write_text(render_report(verdict, lines), encoding="utf-8")
