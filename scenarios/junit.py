"""JUnit XML of a verdict: one test case per invariant, per threshold and per run problem, for CI.

The suite's properties name the policy the run was judged against, rule by rule, with where each
rule came from. Failures carry the counter-examples as pretty JSON lines; an unknown answer that passes
(non-strict) is a passing case with a note in system-out, so it stays visible. A run that did
less than asked (Locust refused to start, workers lost, nobody signed in) is an `<error>` case
with its reason, so the file can never be green while the run failed. Every threshold the
scenario asked for is a case, evaluated or not. Times are real: an invariant's checking time,
a threshold's load time.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from mfa_harness.checker import valid_label

from .judged_policy import rule_text
from .verdict import threshold_text


def format_examples(examples: list[list[dict[str, Any]]]) -> str:
    """Each example as a numbered block of one JSON object per history line (ASCII-safe)."""
    blocks = []
    for n, example in enumerate(examples, 1):
        body = "\n".join(json.dumps(line, sort_keys=True, default=str) for line in example)
        blocks.append(f"example {n}:\n{body}")
    return "\n\n".join(blocks)


def _seconds(value: Any) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "0"


def _invariant_case(suite: ET.Element, name: str, inv: dict[str, Any], strict: bool, seconds: Any) -> bool:
    case = ET.SubElement(suite, "testcase", classname=f"{suite.get('name')}.invariants", name=name,
                         time=_seconds(seconds))
    state, want = valid_label(inv.get("valid")), inv.get("expected", "valid")
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


def _policy_properties(props: ET.Element, policy: dict[str, Any]) -> None:
    """The policy the run was judged against: `policy.source`, then `policy.KEY` = value (origin)
    for each rule (none for a verdict written before verdicts carried it)."""
    if not policy:
        return
    ET.SubElement(props, "property", name="policy.source", value=str(policy.get("source")))
    for key, rule in (policy.get("rules") or {}).items():
        ET.SubElement(props, "property", name=f"policy.{key}", value=rule_text(rule))


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
    _policy_properties(props, verdict.get("policy") or {})
    timings = verdict.get("timings") or {}
    failures = tests = errors = 0
    for n, problem in enumerate(verdict.get("problems") or [], 1):
        tests += 1
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=f"{suite.get('name')}.run", name=f"problem {n}", time="0")
        ET.SubElement(case, "error", message=str(problem), type="run-problem").text = str(problem)
    for name, inv in (verdict.get("invariants") or {}).items():
        tests += 1
        failures += _invariant_case(suite, name, inv, strict, (timings.get("check_s") or {}).get(name))
    for expr, th in (verdict.get("thresholds") or {}).items():
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=f"{suite.get('name')}.thresholds", name=str(expr),
                             time=_seconds(timings.get("load_wall_s")))
        if th.get("passed"):
            continue
        body = json.dumps(th, sort_keys=True, default=str)
        if th.get("value") is None and th.get("note"):
            errors += 1
            ET.SubElement(case, "error", message=f"threshold not evaluated: {th['note']}", type="threshold").text = body
        else:
            failures += 1
            ET.SubElement(case, "failure", message=f"threshold missed: {threshold_text(th)}",
                          type="threshold").text = body
    total = sum(float(c.get("time") or 0) for c in suite.iter("testcase"))
    for el in (suite, root):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
        el.set("time", f"{total:.3f}")
    return root


def write_junit(verdict: dict[str, Any], path: str | Path) -> None:
    """Write junit.xml (UTF-8, with declaration)."""
    tree = ET.ElementTree(build_junit(verdict))
    ET.indent(tree)
    tree.write(Path(path), encoding="utf-8", xml_declaration=True)
