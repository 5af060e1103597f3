"""The report's charts as plain SVG: nice ticks, labels inside the frame, colours that match legends.

Shared rules: axis ticks are "nice" numbers (1, 2, 2.5 or 5 times a power of ten) covering the
data; every label is anchored so that it stays inside the SVG (the last x label is right-aligned);
shaded bands (fault windows) are drawn *behind* the bars, so a bar keeps its legend colour; the
time axis runs from 0 to the end of the run, with a mark where the load ended. Geometry is
computed here; the markup is the templates `templates/*.svg` (tornado.template, autoescaped, so
an outcome or fault label from a history is always text).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tornado.template import Loader

W, H, PAD_L, PAD_R, PAD_B, PAD_T = 640, 240, 52, 16, 40, 28
PLOT_W, PLOT_H = W - PAD_L - PAD_R, H - PAD_B - PAD_T
FAULT_FILL = "#fbe0e0"        # solid: what the legend shows is what the band looks like
FAULT_EDGE = "#c62828"
LOAD_END_COLOUR = "#37474f"
BAR_COLOUR = "#1565c0"
_TEMPLATES = Loader(str(Path(__file__).parent / "templates"), autoescape="xhtml_escape")


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

    def axes(self, xlabel: str, ylabel: str, *, x_labels: bool = True) -> dict[str, Any]:
        """What templates/chart_axes.svg draws: y ticks (y, label), x ticks (x, anchor, label; the
        last one right-aligned), axis titles."""
        x_ticks = []
        if x_labels:
            for i, v in enumerate(self.xt):
                x = self.x(v)
                x_ticks.append((x, "end" if x > W - PAD_R - 15 else "start" if i == 0 else "middle", fmt(v)))
        return {"y_ticks": [(self.y(v), fmt(v)) for v in self.yt], "x_ticks": x_ticks,
                "xlabel": xlabel, "ylabel": ylabel}


def render(template: str, title: str, **values: Any) -> str:
    """One chart from its template, with the frame's constants and `fmt` at hand."""
    return _TEMPLATES.load(template).generate(
        title=title, fmt=fmt, W=W, H=H, PAD_L=PAD_L, PAD_R=PAD_R, PAD_B=PAD_B, PAD_T=PAD_T, PLOT_W=PLOT_W,
        PLOT_H=PLOT_H, **values).decode("utf-8")


def no_data(title: str) -> str:
    return _TEMPLATES.load("no_data.html").generate(title=title).decode("utf-8")


def histogram_svg(values: list[float], title: str, xlabel: str, bins: int = 20) -> str:
    """Counts of `values` in equal-width bins over nice x ticks that cover them."""
    if not values:
        return no_data(title)
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):          # one value (up to float noise): one centred bar
        lo, hi = lo - 0.5, lo + 0.5
    xt = nice_ticks(lo, hi)
    width = (xt[-1] - xt[0]) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - xt[0]) / width)))] += 1
    frame = Frame(xt, nice_ticks(0, max(counts), 4, integer=True))
    bars = [(frame.x(xt[0] + i * width), frame.x(xt[0] + (i + 1) * width), frame.y(n),
             xt[0] + i * width, xt[0] + (i + 1) * width, n) for i, n in enumerate(counts)]
    return render("histogram.svg", title, axes=frame.axes(xlabel, "logins" if "login" in title.lower() else "count"),
                  bars=bars, fill=BAR_COLOUR)


def bars_svg(counts: dict[str, int], title: str, xlabel: str, ylabel: str = "logins",
             share_of: int | None = None) -> str:
    """One bar per category, always the same categories (so one category is never one huge bar),
    each labelled with its count and its share of `share_of` (default: of all bars)."""
    total = sum(counts.values())
    if not total:
        return no_data(title)
    keys = list(counts)
    top = max(counts.values())
    yt = nice_ticks(0, top, 4, integer=True)
    if yt[-1] < top * 1.12:                        # room above the tallest bar for its label
        yt.append(yt[-1] + (yt[1] - yt[0]))
    frame = Frame([0.0, float(len(keys))], yt)
    step = PLOT_W / len(keys)
    bars = []
    for i, key in enumerate(keys):
        n = counts[key]
        share = 100.0 * n / (share_of or total)
        label = (f"{fmt(n)} ({share:.0f}%)" if share >= 1 else f"{fmt(n)} (<1%)") if n else "0"
        bars.append((PAD_L + step * (i + 0.5), frame.y(n), key, n, label))
    return render("bars.svg", title, axes=frame.axes(xlabel, ylabel, x_labels=False), bars=bars,
                  bar_w=min(step * 0.6, 60.0))


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
    bands = [(frame.x(max(start, 0.0)), frame.x(min(stop if stop is not None else t_end, t_end)), start, stop, label)
             for start, stop, label in windows]
    bars = []
    for b in bins:
        y = H - PAD_B
        for outcome in sorted(b["counts"], key=lambda o: (o != "ok", o)):
            n = b["counts"][outcome]
            bh = PLOT_H * n / (frame.yt[-1] or 1)
            y -= bh
            bars.append((outcome, frame.x(b["t0"]), y, bh, colours.get(outcome, "#757575"), b["t0"], n))
    band_labels = [(x1, "end" if x1 > W - PAD_R - 80 else "start", label)
                   for x1, label in ((frame.x(max(start, 0.0)), label) for start, _stop, label in windows)]
    load_x = frame.x(load_end) if load_end is not None else 0.0
    return render("timeline.svg", title, axes=frame.axes("scenario time (s)", f"logins per {fmt(bin_s)} s"),
                  bands=bands, bars=bars, bar_w=frame.x(bin_s) - frame.x(0.0), band_labels=band_labels,
                  load_end=load_end, load_x=load_x, load_anchor="end" if load_x > W - PAD_R - 80 else "start",
                  fault_fill=FAULT_FILL, fault_edge=FAULT_EDGE, load_colour=LOAD_END_COLOUR)
