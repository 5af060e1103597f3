"""The run's verdict: invariant answers against what the scenario expected, plus thresholds.

A normal run expects `{"violations": 0}`: every invariant valid (unknown passes unless strict).
A validation run against a planted bug expects `{"invalid": [names]}`: exactly those come out
invalid; the others may be valid or unknown (unknown fails only when strict).
"""

from __future__ import annotations

from typing import Any

from mfa_harness.checker import INVARIANT_NAMES

_STATES = (True, False, "unknown")


def expected_invalid(expected: dict[str, Any]) -> list[str]:
    """The invariants a run must break; [] for `{"violations": 0}`. Bad shapes are refused."""
    if not isinstance(expected, dict):
        raise ValueError(f"expected must be a dict, got {type(expected).__name__}")
    if "invalid" in expected:
        names = expected["invalid"]
        if not isinstance(names, list | tuple) or not names:
            raise ValueError("expected.invalid must be a non-empty list of invariant names")
        unknown = [n for n in names if n not in INVARIANT_NAMES]
        if unknown:
            raise ValueError(f"expected.invalid names unknown invariants: {', '.join(map(str, unknown))}")
        return list(names)
    if expected.get("violations", 0) != 0:
        raise ValueError(f"expected.violations must be 0, got {expected.get('violations')!r}")
    return []


def value_text(value: Any, unit: str = "") -> str:
    """A value as people read it: `300.8 s scenario time`, `0.75`, `no data`."""
    if value is None:
        return "no data"
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    return f"{value} {unit}".strip()


def threshold_text(th: dict[str, Any]) -> str:
    """`value 300.8 s scenario time (limit < 8 s scenario time)` for one evaluated threshold."""
    unit = str(th.get("unit") or "")
    text = f"value {value_text(th.get('value'), unit)}"
    if th.get("op") and th.get("limit") is not None:
        text += f" (limit {th['op']} {value_text(th['limit'], unit)})"
    return text


def normalize_thresholds(thresholds: Any) -> dict[str, dict[str, Any]]:
    """Expression -> {"passed", "value"}, from a dict of dicts or bools, or a list of records."""
    if thresholds is None:
        return {}
    items: list[tuple[str, Any]]
    if isinstance(thresholds, dict):
        items = list(thresholds.items())
    elif isinstance(thresholds, list):
        items = []
        for rec in thresholds:
            if not isinstance(rec, dict):
                raise ValueError(f"threshold record must be a dict, got {rec!r}")
            expr = rec.get("expr", rec.get("expression", rec.get("name")))
            if expr is None:
                raise ValueError(f"threshold record without an expression: {rec!r}")
            items.append((str(expr), rec))
    else:
        raise ValueError(f"thresholds must be a dict or a list, got {type(thresholds).__name__}")
    out: dict[str, dict[str, Any]] = {}
    for expr, rec in items:
        if isinstance(rec, bool):
            out[expr] = {"passed": rec, "value": None}
        elif isinstance(rec, dict) and isinstance(rec.get("passed"), bool):
            out[expr] = {**rec, "passed": rec["passed"], "value": rec.get("value")}
        else:
            raise ValueError(f"threshold {expr!r} has no boolean 'passed': {rec!r}")
    return out


def build_verdict(*, scenario: str, seed: Any, time_scale: Any, invariants: dict[str, dict[str, Any]],
                  thresholds: Any, metrics: dict[str, Any], faults: list[Any], bugs: list[str],
                  expected: dict[str, Any], strict: bool = False, problems: list[str] | None = None) -> dict[str, Any]:
    """Assemble verdict.json; `passed` is invariants as expected, every threshold met and no `problems`
    (why the run did less than asked; the caller records them)."""
    must_fail = expected_invalid(expected)
    checked: dict[str, dict[str, Any]] = {}
    unknown, unexpected_invalid, not_shown = [], [], []
    for name, answer in invariants.items():
        if not isinstance(answer, dict) or answer.get("valid") not in _STATES:
            raise ValueError(f"invariant {name!r} has no valid/invalid/unknown answer: {answer!r}")
        state = answer["valid"]
        want = "invalid" if name in must_fail else "valid"
        if state == "unknown":
            unknown.append(name)
        if want == "invalid":
            ok = state is False
            if not ok:
                not_shown.append(name)
        else:
            ok = state is True or (state == "unknown" and not strict)
            if state is False:
                unexpected_invalid.append(name)
        checked[name] = {**answer, "expected": want, "as_expected": ok}
    missing = [n for n in must_fail if n not in checked]
    if missing:
        raise ValueError(f"expected invalid invariants were not checked: {', '.join(missing)}")
    limits = normalize_thresholds(thresholds)
    invariants_ok = all(v["as_expected"] for v in checked.values())
    thresholds_ok = all(t["passed"] for t in limits.values())
    return {
        "scenario": scenario,
        "seed": seed,
        "time_scale": time_scale,
        "passed": invariants_ok and thresholds_ok and not problems,
        "invariants_as_expected": invariants_ok,
        "thresholds_passed": thresholds_ok,
        "invariants": checked,
        "thresholds": limits,
        "metrics": metrics,
        "faults": list(faults or []),
        "bugs": list(bugs or []),
        "expected": dict(expected),
        "unexpected_invalid": unexpected_invalid,
        "expected_invalid_not_shown": not_shown,
        "unknown": {"invariants": unknown, "strict": bool(strict), "counted_as": "fail" if strict else "pass"},
    }
