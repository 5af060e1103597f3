"""`mfa-harness compare A B`: two finished runs side by side (e.g. one scenario under two resend policies).

The delayed-email question — how many more logins fail when a resend voids the older code? —
is answered by running `delayed-email` and `delayed-email-keep` and comparing their verdicts.
In CI, `--json` gives the rows to other tools and `--fail-if "logins_failed > +10%"` turns the
comparison into a regression gate (exit 3 when one trips).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfa_harness.errors import SetupError

ROWS = ("logins_ok", "logins_failed", "flow_p50_s", "flow_p95_s", "flow_p99_s",
        "login_ok_p50_s", "login_ok_p95_s", "login_ok_p99_s",
        "code_delivery_p50_s", "code_delivery_p99_s", "resends", "loops")


class CompareError(SetupError):
    """A folder that is not a finished run (`run_dir`), or a `--fail-if` gate that cannot be read (`gate`)."""


def load_verdict(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "verdict.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise CompareError(f"{run_dir}: no verdict.json (not a finished run)", run_dir=str(run_dir)) from None
    except ValueError as exc:
        raise CompareError(f"{path}: not JSON ({exc})", run_dir=str(run_dir)) from None


def failure_rate(metrics: dict[str, Any]) -> float | None:
    ok, failed = metrics.get("logins_ok") or 0, metrics.get("logins_failed") or 0
    return failed / (ok + failed) if ok + failed else None


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(metric, A, B, B - A) for the flow metrics, the failure rate and every outcome reason."""
    ma, mb = a.get("metrics", {}), b.get("metrics", {})
    rows: list[tuple[str, Any, Any, Any]] = []

    def add(name: str, va: Any, vb: Any) -> None:
        diff = round(vb - va, 4) if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        rows.append((name, va, vb, diff))

    for key in ROWS:
        add(key, ma.get(key), mb.get(key))
    fa, fb = failure_rate(ma), failure_rate(mb)
    add("failed_login_rate", None if fa is None else round(fa, 4), None if fb is None else round(fb, 4))
    outcomes = sorted(set(ma.get("outcomes", {})) | set(mb.get("outcomes", {})))
    for reason in outcomes:
        add(f"outcome.{reason}", ma.get("outcomes", {}).get(reason, 0), mb.get("outcomes", {}).get(reason, 0))
    return rows


def render(a_dir: Path, b_dir: Path) -> str:
    a, b = load_verdict(a_dir), load_verdict(b_dir)
    rows = compare_rows(a, b)
    head = ("metric", f"A: {a.get('scenario')}", f"B: {b.get('scenario')}", "B - A")
    table = [head] + [(n, "-" if va is None else str(va), "-" if vb is None else str(vb),
                       "" if d is None else f"{d:+g}") for n, va, vb, d in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [f"A = {a_dir} ({'PASS' if a.get('passed') else 'FAIL'}), B = {b_dir} ({'PASS' if b.get('passed') else 'FAIL'})"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return "\n".join(lines)


# ---- machine-readable output and regression gates ------------------------------------------------
GATE_OPS = {">": lambda v, lim: v > lim, ">=": lambda v, lim: v >= lim,
            "<": lambda v, lim: v < lim, "<=": lambda v, lim: v <= lim}
_GATE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*([+-]?)(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Gate:
    """`METRIC OP [+|-]NUMBER[%]`: with a sign, the change from A to B (relative with %); without, B's value."""

    expr: str
    metric: str
    op: str
    limit: float
    kind: str          # "relative" (percent of A), "change" (B - A) or "value" (B)

    def evaluate(self, row: tuple[str, Any, Any, Any] | None) -> dict[str, Any]:
        """{expr, metric, kind, value, passed, why}; a gate whose metric has no value on a side trips."""
        out: dict[str, Any] = {"expr": self.expr, "metric": self.metric, "kind": self.kind, "value": None}
        if row is None or not isinstance(row[2], int | float) or (
                self.kind != "value" and not isinstance(row[1], int | float)):
            return {**out, "passed": False, "why": f"{self.metric} has no value in both runs"}
        _, a, b, _diff = row
        if self.kind == "value":
            value = float(b)
        elif self.kind == "change":
            value = round(float(b) - float(a), 6)
        elif a == 0:
            value = 0.0 if b == 0 else math.copysign(math.inf, float(b))
        else:
            value = round(100.0 * (float(b) - float(a)) / abs(float(a)), 4)
        tripped = GATE_OPS[self.op](value, self.limit)
        unit = "%" if self.kind == "relative" else ""
        shown = "new in B" if math.isinf(value) else f"{value:+g}{unit}" if self.kind != "value" else f"{value:g}"
        return {**out, "value": None if math.isinf(value) else value, "passed": not tripped,
                "why": f"{self.metric}: {shown} ({'tripped' if tripped else 'ok'}: {self.expr})"}


def parse_gate(text: str) -> Gate:
    """`logins_failed > +10%` -> Gate; a malformed expression is a CompareError naming the syntax."""
    m = _GATE.match(text or "")
    if not m:
        raise CompareError(f"--fail-if {text!r}: expected 'METRIC OP [+|-]NUMBER[%]' with OP one of "
                           f"{' '.join(GATE_OPS)}, e.g. 'logins_failed > +10%'")
    metric, op, sign, number, percent = m.groups()
    limit = float(number) * (-1 if sign == "-" else 1)
    if percent and not sign:
        raise CompareError(f"--fail-if {text!r}: a percentage is a change from A, so it needs a sign (+10% or -10%)")
    kind = "relative" if percent else "change" if sign else "value"
    return Gate(expr=text.strip(), metric=metric, op=op, limit=limit, kind=kind)


def compare_runs(a_dir: Path, b_dir: Path, gates: list[Gate] | None = None, *,
                 as_json: bool = False) -> tuple[str, bool]:
    """The comparison (text table or JSON) and whether every gate held; unknown metrics are a CompareError."""
    a, b = load_verdict(a_dir), load_verdict(b_dir)
    rows = compare_rows(a, b)
    by_name = {r[0]: r for r in rows}
    gates = gates or []
    for gate in gates:
        if gate.metric not in by_name and not gate.metric.startswith("outcome."):
            raise CompareError(f"--fail-if {gate.expr!r}: unknown metric {gate.metric!r} "
                               f"(known: {', '.join(n for n in by_name if not n.startswith('outcome.'))}, outcome.REASON)")
    results = [g.evaluate(by_name.get(g.metric) or _zero_outcome(g.metric, a, b)) for g in gates]
    passed = all(r["passed"] for r in results)
    if as_json:
        doc = {"a": _side(a_dir, a), "b": _side(b_dir, b), "passed": passed, "gates": results,
               "rows": [{"metric": n, "a": va, "b": vb, "diff": d} for n, va, vb, d in rows]}
        return json.dumps(doc, indent=2, allow_nan=False), passed
    text = render(a_dir, b_dir)
    if results:
        text += "\n" + "\n".join(("ok       " if r["passed"] else "TRIPPED  ") + r["why"] for r in results)
    return text, passed


def _zero_outcome(metric: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, Any, Any, Any] | None:
    """An outcome neither run had counts 0 on both sides (a gate on it holds unless it is about B's value)."""
    return (metric, 0, 0, 0) if metric.startswith("outcome.") else None


def _side(run_dir: Path, verdict: dict[str, Any]) -> dict[str, Any]:
    return {"dir": str(run_dir), "scenario": verdict.get("scenario"), "passed": verdict.get("passed")}
