"""The report's charts as plain SVG: nice ticks, labels inside the frame, colours that match legends.

Shared rules: axis ticks are "nice" numbers (1, 2, 2.5 or 5 times a power of ten) covering the
data; every label is anchored so that it stays inside the SVG (the last x label is right-aligned);
shaded bands (fault windows) are drawn *behind* the bars, so a bar keeps its legend colour; the
time axis runs from 0 to the end of the run, with a mark where the load ended. Every text goes
through html.escape.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

W, H, PAD_L, PAD_R, PAD_B, PAD_T = 640, 240, 52, 16, 40, 28
PLOT_W, PLOT_H = W - PAD_L - PAD_R, H - PAD_B - PAD_T
FONT = 'font-family="system-ui, sans-serif"'
FAULT_FILL = "#fbe0e0"        # solid: what the legend shows is what the band looks like
FAULT_EDGE = "#c62828"
LOAD_END_COLOUR = "#37474f"
BAR_COLOUR = "#1565c0"


def fmt(value: Any) -> str:
    """A number as a short label: `2`, `2.5`, `0.125`, `1,200`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def nice_step(span: float, target: int = 5) -> float:
    """The 1/2/2.5/5 x 10^k step that cuts `span` into about `target` intervals."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def nice_ticks(lo: float, hi: float, target: int = 5, *, integer: bool = False) -> list[float]:
    """Ticks from a nice value at or below `lo` to one at or above `hi` (integers only if asked)."""
    step = nice_step(hi - lo, target)
    if integer:
        step = max(1.0, math.ceil(step))
    start, stop = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    if stop <= start:
        stop = start + step
    count = round((stop - start) / step)
    return [round(start + i * step, 10) for i in range(count + 1)]


class Frame:
    """Maps data to SVG coordinates for one chart with x ticks `xt` and y ticks `yt`."""

    def __init__(self, xt: list[float], yt: list[float], xdomain: tuple[float, float] | None = None):
        self.xt, self.yt = xt, yt
        self.xdomain = xdomain or (xt[0], xt[-1])

    def x(self, v: float) -> float:
        lo, hi = self.xdomain
        return PAD_L + PLOT_W * (v - lo) / ((hi - lo) or 1.0)

    def y(self, v: float) -> float:
        lo, hi = self.yt[0], self.yt[-1]
        return H - PAD_B - PLOT_H * (v - lo) / ((hi - lo) or 1.0)

    def axes(self, xlabel: str, ylabel: str, *, x_labels: bool = True) -> list[str]:
        """Grid lines, both axes, tick labels (the last x label right-aligned) and axis titles."""
        parts = []
        for v in self.yt:
            y = self.y(v)
            parts.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" stroke="#eee"/>')
            parts.append(f'<text x="{PAD_L - 5}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" {FONT}>'
                         f'{escape(fmt(v))}</text>')
        parts.append(f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#444"/>')
        parts.append(f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#444"/>')
        if x_labels:
            for i, v in enumerate(self.xt):
                x = self.x(v)
                anchor = "end" if x > W - PAD_R - 15 else "start" if i == 0 else "middle"
                parts.append(f'<line x1="{x:.1f}" y1="{H - PAD_B}" x2="{x:.1f}" y2="{H - PAD_B + 4}" stroke="#444"/>')
                parts.append(f'<text class="xtick" x="{x:.1f}" y="{H - PAD_B + 15}" font-size="10" text-anchor="{anchor}" {FONT}>'
                             f'{escape(fmt(v))}</text>')
        parts.append(f'<text x="{PAD_L + PLOT_W / 2:.1f}" y="{H - 6}" font-size="11" text-anchor="middle" {FONT}>'
                     f'{escape(xlabel)}</text>')
        parts.append(f'<text x="{PAD_L}" y="{PAD_T - 10}" font-size="11" {FONT}>{escape(ylabel)}</text>')
        return parts


def svg(parts: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>')


def histogram_svg(values: list[float], title: str, xlabel: str, bins: int = 20) -> str:
    """Counts of `values` in equal-width bins over nice x ticks that cover them."""
    if not values:
        return f"<p>No data for {escape(title.lower())}.</p>"
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):          # one value (up to float noise): one centred bar
        lo, hi = lo - 0.5, lo + 0.5
    xt = nice_ticks(lo, hi)
    width = (xt[-1] - xt[0]) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - xt[0]) / width)))] += 1
    frame = Frame(xt, nice_ticks(0, max(counts), 4, integer=True))
    parts = frame.axes(xlabel, "logins" if "login" in title.lower() else "count")
    for i, n in enumerate(counts):
        x0, x1 = frame.x(xt[0] + i * width), frame.x(xt[0] + (i + 1) * width)
        y = frame.y(n)
        parts.append(f'<rect x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                     f'height="{H - PAD_B - y:.1f}" fill="{BAR_COLOUR}"><title>{escape(fmt(xt[0] + i * width))}–'
                     f'{escape(fmt(xt[0] + (i + 1) * width))}: {n}</title></rect>')
    return svg(parts, title)


def bars_svg(counts: dict[str, int], title: str, xlabel: str, ylabel: str = "logins",
             share_of: int | None = None) -> str:
    """One bar per category, always the same categories (so one category is never one huge bar),
    each labelled with its count and its share of `share_of` (default: of all bars)."""
    total = sum(counts.values())
    if not total:
        return f"<p>No data for {escape(title.lower())}.</p>"
    keys = list(counts)
    top = max(counts.values())
    yt = nice_ticks(0, top, 4, integer=True)
    if yt[-1] < top * 1.12:                        # room above the tallest bar for its label
        yt.append(yt[-1] + (yt[1] - yt[0]))
    frame = Frame([0.0, float(len(keys))], yt)
    parts = frame.axes(xlabel, ylabel, x_labels=False)
    step = PLOT_W / len(keys)
    bar_w = min(step * 0.6, 60.0)
    for i, key in enumerate(keys):
        n = counts[key]
        cx, y = PAD_L + step * (i + 0.5), frame.y(n)
        parts.append(f'<rect x="{cx - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{H - PAD_B - y:.1f}" '
                     f'fill="#6a1b9a"><title>{escape(key)}: {n}</title></rect>')
        parts.append(f'<text x="{cx:.1f}" y="{H - PAD_B + 15}" font-size="10" text-anchor="middle" {FONT}>'
                     f'{escape(key)}</text>')
        share = 100.0 * n / (share_of or total)
        label = (f"{fmt(n)} ({share:.0f}%)" if share >= 1 else f"{fmt(n)} (<1%)") if n else "0"
        parts.append(f'<text x="{cx:.1f}" y="{max(y - 4, PAD_T + 9):.1f}" font-size="10" text-anchor="middle" '
                     f'{FONT}>{escape(label)}</text>')
    return svg(parts, title)


def time_bin(span: float) -> float:
    """A readable bin width giving at most about 25 bars over `span` scenario seconds."""
    for width in (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0):
        if span / width <= 25:
            return width
    return 3600.0


def stacked_time_svg(bins: list[dict[str, Any]], bin_s: float, colours: dict[str, str],
                     windows: list[tuple[float, float | None, str]], t_end: float,
                     load_end: float | None, title: str) -> str:
    """Stacked counts per time bin over 0..t_end (the axis ends there, ticks at nice values inside);
    fault bands behind the bars; a load-ended mark."""
    xt = [t for t in nice_ticks(0.0, t_end) if t <= t_end + 1e-9]
    top = max([sum(b["counts"].values()) for b in bins] + [1])
    frame = Frame(xt, nice_ticks(0, top, 4, integer=True), xdomain=(0.0, t_end))
    parts: list[str] = []
    for start, stop, label in windows:            # first: behind everything else
        x1, x2 = frame.x(max(start, 0.0)), frame.x(min(stop if stop is not None else t_end, t_end))
        parts.append(f'<rect class="fault" x="{x1:.1f}" y="{PAD_T}" width="{max(x2 - x1, 1.5):.1f}" height="{PLOT_H}" '
                     f'fill="{FAULT_FILL}"><title>{escape(label)}: {escape(fmt(start))}–{escape(fmt(stop))} s</title>'
                     f'</rect>')
    parts += frame.axes("scenario time (s)", f"logins per {fmt(bin_s)} s")
    bar_w = frame.x(bin_s) - frame.x(0.0)
    for b in bins:
        y = H - PAD_B
        for outcome in sorted(b["counts"], key=lambda o: (o != "ok", o)):
            n = b["counts"][outcome]
            bh = PLOT_H * n / (frame.yt[-1] or 1)
            y -= bh
            parts.append(f'<rect class="bar" data-outcome="{escape(outcome)}" x="{frame.x(b["t0"]) + 0.5:.1f}" '
                         f'y="{y:.1f}" width="{max(bar_w - 1, 0.5):.1f}" height="{bh:.1f}" '
                         f'fill="{colours.get(outcome, "#757575")}"><title>{escape(fmt(b["t0"]))} s: '
                         f'{escape(outcome)} {n}</title></rect>')
    for start, _stop, label in windows:           # labels on top, so they stay readable
        x1 = frame.x(max(start, 0.0))
        parts.append(f'<line x1="{x1:.1f}" y1="{PAD_T}" x2="{x1:.1f}" y2="{H - PAD_B}" stroke="{FAULT_EDGE}" '
                     f'stroke-dasharray="3,2"/>')
        anchor = "end" if x1 > W - PAD_R - 80 else "start"
        parts.append(f'<text x="{x1 + (-3 if anchor == "end" else 3):.1f}" y="{PAD_T + 10}" font-size="9" '
                     f'text-anchor="{anchor}" fill="#b71c1c" {FONT}>{escape(label)}</text>')
    if load_end is not None:
        x = frame.x(load_end)
        anchor = "end" if x > W - PAD_R - 80 else "start"
        parts.append(f'<line class="load-end" x1="{x:.1f}" y1="{PAD_T - 4}" x2="{x:.1f}" y2="{H - PAD_B}" '
                     f'stroke="{LOAD_END_COLOUR}" stroke-width="1.5" stroke-dasharray="6,3"/>')
        parts.append(f'<text x="{x + (-3 if anchor == "end" else 3):.1f}" y="{PAD_T - 6}" font-size="10" '
                     f'text-anchor="{anchor}" fill="{LOAD_END_COLOUR}" {FONT}>load ended ({escape(fmt(load_end))} s)'
                     f'</text>')
    return svg(parts, title)
