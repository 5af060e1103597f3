"""`mfa-harness compare A B`: two finished runs side by side (e.g. one scenario under two resend policies).

The delayed-email question — how many more logins fail when a resend voids the older code? —
is answered by running `delayed-email` and `delayed-email-keep` and comparing their verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROWS = ("logins_ok", "logins_failed", "flow_p50_s", "flow_p95_s", "flow_p99_s",
        "login_ok_p50_s", "login_ok_p95_s", "login_ok_p99_s",
        "code_delivery_p50_s", "code_delivery_p99_s", "resends", "loops")


class CompareError(ValueError):
    """A folder that is not a finished run."""


def load_verdict(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "verdict.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise CompareError(f"{run_dir}: no verdict.json (not a finished run)") from None
    except ValueError as exc:
        raise CompareError(f"{path}: not JSON ({exc})") from None


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
