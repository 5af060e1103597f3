"""Measurement vocabulary shared by every benchmark: rounds, ratios, goals, machine facts, JSON.

A benchmark produces *figures*. A ratio figure holds the raw per-round values of A and B
(measured in alternating rounds, so drift on a shared machine hits both sides), their
medians, A/B and the goal; an absolute figure (memory) holds one value and its goal.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIN_ROUNDS = 5


@dataclass(frozen=True)
class Goal:
    """`value OP target`, e.g. ratio <= 3 or messages/s ratio >= 0.8."""

    op: str  # "<=" or ">="
    target: float
    text: str

    def met(self, value: float | None) -> bool:
        if value is None or value != value:
            return False
        return value <= self.target if self.op == "<=" else value >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.target, "text": self.text}


@dataclass
class Side:
    """One side of a ratio: a label, a unit and one value per round."""

    label: str
    unit: str
    rounds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.rounds) if self.rounds else None

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, "rounds": [_r(v) for v in self.rounds],
                "median": _r(self.median)}


def _r(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.6g}")


def ratio_figure(name: str, a: Side, b: Side, goal: Goal | None, note: str = "") -> dict[str, Any]:
    """A/B of the medians, with the goal verdict (`goal=None`: a context figure, always "met")."""
    ma, mb = a.median, b.median
    ratio = ma / mb if ma is not None and mb else None
    return {"name": name, "kind": "ratio", "a": a.as_dict(), "b": b.as_dict(), "ratio": _r(ratio),
            "goal": goal.as_dict() if goal else None, "met": goal.met(ratio) if goal else True, "note": note}


def absolute_figure(name: str, value: float | None, unit: str, goal: Goal, rounds: Sequence[float] = (),
                    note: str = "") -> dict[str, Any]:
    """A stable quantity (memory, error count) reported as is."""
    return {"name": name, "kind": "absolute", "value": _r(value), "unit": unit,
            "rounds": [_r(v) for v in rounds], "goal": goal.as_dict(), "met": goal.met(value), "note": note}


def alternate(rounds: int, run_a: Callable[[int], float], run_b: Callable[[int], float]) -> tuple[list[float], list[float]]:
    """Run A and B `rounds` times each, A first in even rounds and B first in odd ones (ABBA)."""
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            a.append(run_a(i))
            b.append(run_b(i))
        else:
            b.append(run_b(i))
            a.append(run_a(i))
    return a, b


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What a reader needs to compare two result files: cores, CPU, Python, load when measured."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg": [round(x, 2) for x in load]}


def result(name: str, title: str, size: str, figures: list[dict[str, Any]], started: float,
           params: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document of one benchmark run."""
    return {"benchmark": name, "title": title, "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "size": size, "seconds": round(time.monotonic() - started, 1),
            "params": params or {}, "figures": figures, "met": all(f["met"] for f in figures),
            "extra": extra or {}}


def write_result(doc: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{doc['benchmark']}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def figure_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, A, B, value, goal, met) rows of one result, for the console and the README."""
    rows = []
    for f in doc["figures"]:
        goal = f"{f['goal']['op']} {_fmt(f['goal']['value'])}" if f.get("goal") else "(context)"
        met = ("yes" if f["met"] else "NO") if f.get("goal") else "-"
        if f["kind"] == "ratio":
            a, b = f["a"], f["b"]
            rows.append((f["name"], f"{a['label']}: {_fmt(a['median'])} {a['unit']}",
                         f"{b['label']}: {_fmt(b['median'])} {b['unit']}", _fmt(f["ratio"]), goal, met))
        else:
            rows.append((f["name"], "", "", f"{_fmt(f['value'])} {f['unit']}", goal, met))
    return rows


def print_table(doc: dict[str, Any]) -> None:
    """A plain-text table of one benchmark's figures."""
    head = ("figure", "A (median)", "B (median)", "value", "goal", "met")
    rows = [head, *figure_rows(doc)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    m = doc["machine"]
    print(f"\n== {doc['benchmark']}: {doc['title']} (size {doc['size']}, {doc['seconds']} s, "
          f"{m['nproc']} cpu, load {m['loadavg']})")
    for i, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
