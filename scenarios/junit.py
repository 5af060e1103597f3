"""JUnit XML of a verdict: one test case per invariant and per threshold, for CI dashboards.

Failures carry the counter-examples as pretty JSON lines; an unknown answer that passes
(non-strict) is a passing case with a note in system-out, so it stays visible.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def format_examples(examples: list[list[dict[str, Any]]]) -> str:
    """Each example as a numbered block of one JSON object per history line (ASCII-safe)."""
    blocks = []
    for n, example in enumerate(examples, 1):
        body = "\n".join(json.dumps(line, sort_keys=True, default=str) for line in example)
        blocks.append(f"example {n}:\n{body}")
    return "\n\n".join(blocks)


def _state(value: Any) -> str:
    return {True: "valid", False: "invalid"}.get(value, "unknown") if isinstance(value, bool) else "unknown"


def _invariant_case(suite: ET.Element, name: str, inv: dict[str, Any], strict: bool) -> bool:
    case = ET.SubElement(suite, "testcase", classname=f"{suite.get('name')}.invariants", name=name, time="0")
    state, want = _state(inv.get("valid")), inv.get("expected", "valid")
    checked = inv.get("checked")
    if checked is not None:       # the evidence behind the answer: cases the invariant examined
        ET.SubElement(ET.SubElement(case, "properties"), "property", name="checked", value=str(checked))
    if inv.get("as_expected", state != "invalid"):
        if state == "unknown":
            ET.SubElement(case, "system-out").text = (
                f"unknown: the history cannot settle this invariant ({checked or 0} case(s) checked)")
        return False
    if want == "invalid":
        message = f"expected invalid (planted bug) but the checker answered {state}"
    elif state == "unknown":
        message = "unknown, and unknown fails in strict mode" if strict else "unknown"
    else:
        message = f"{inv.get('violations', 0)} violation(s) in {checked if checked is not None else '?'} case(s)"
    failure = ET.SubElement(case, "failure", message=message, type="invariant")
    failure.text = format_examples(inv.get("examples") or []) or message
    return True


def build_junit(verdict: dict[str, Any]) -> ET.Element:
    """The XML tree; separate from writing so tests and callers can inspect it."""
    scenario = str(verdict.get("scenario", "?"))
    strict = bool((verdict.get("unknown") or {}).get("strict"))
    root = ET.Element("testsuites", name="mfa-harness")
    suite = ET.SubElement(root, "testsuite", name=f"mfa-harness.{scenario}")
    props = ET.SubElement(suite, "properties")
    for key in ("scenario", "seed", "time_scale", "passed"):
        ET.SubElement(props, "property", name=key, value=str(verdict.get(key)))
    ET.SubElement(props, "property", name="bugs", value=",".join(map(str, verdict.get("bugs") or [])))
    failures = tests = 0
    for name, inv in (verdict.get("invariants") or {}).items():
        tests += 1
        failures += _invariant_case(suite, name, inv, strict)
    for expr, th in (verdict.get("thresholds") or {}).items():
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=f"{suite.get('name')}.thresholds", name=str(expr),
                             time="0")
        if not th.get("passed"):
            failures += 1
            ET.SubElement(case, "failure", message=f"threshold missed: value {th.get('value')}",
                          type="threshold").text = json.dumps(th, sort_keys=True, default=str)
    for el in (suite, root):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", "0")
    return root


def write_junit(verdict: dict[str, Any], path: str | Path) -> None:
    """Write junit.xml (UTF-8, with declaration)."""
    tree = ET.ElementTree(build_junit(verdict))
    ET.indent(tree)
    tree.write(Path(path), encoding="utf-8", xml_declaration=True)
