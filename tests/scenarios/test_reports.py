"""Verdict pass/fail logic, JUnit XML (parsed back) and the self-contained HTML report."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from histories import History, account

from mfa_harness.checker import INVARIANT_NAMES, CheckContext, check
from mfa_harness.scenarios.junit import write_junit
from mfa_harness.scenarios.metrics import flow_metrics
from mfa_harness.scenarios.report import fault_windows, histogram_svg, write_report
from mfa_harness.scenarios.verdict import build_verdict

OK = {"valid": True, "violations": 0, "examples": []}
UNKNOWN = {"valid": "unknown", "violations": 0, "examples": []}
BAD_LINE = {"src": "portal", "event": "verify_ok", "code_id": 7, "note": "<script>alert(1)</script>"}
BAD = {"valid": False, "violations": 2, "examples": [[BAD_LINE], [BAD_LINE, BAD_LINE]]}


def invariants(**override) -> dict:
    return {name: dict(override.get(name, OK)) for name in INVARIANT_NAMES}


def verdict(inv: dict, *, thresholds=None, expected=None, strict=False, bugs=()) -> dict:
    return build_verdict(scenario="smoke", seed=7, time_scale=20.0, invariants=inv,
                         thresholds=thresholds if thresholds is not None else {"login.p95 < 8s": {"passed": True, "value": 3.2}},
                         metrics={"logins_ok": 3}, faults=[{"kind": "delay"}], bugs=list(bugs),
                         expected=expected or {"violations": 0}, strict=strict)


# --- verdict ---------------------------------------------------------------------------

def test_all_valid_and_thresholds_met_passes():
    v = verdict(invariants())
    assert v["passed"] is True and v["invariants_as_expected"] and v["thresholds_passed"]
    for key in ("scenario", "seed", "time_scale", "invariants", "thresholds", "metrics", "faults", "bugs",
                "expected", "unknown"):
        assert key in v


def test_a_violation_fails_the_run():
    v = verdict(invariants(expiry=BAD))
    assert v["passed"] is False and v["invariants_as_expected"] is False
    assert v["unexpected_invalid"] == ["expiry"] and v["invariants"]["expiry"]["as_expected"] is False


def test_missed_threshold_fails_with_invariants_as_expected():
    v = verdict(invariants(), thresholds={"login.p95 < 8s": {"passed": False, "value": 9.1}})
    assert v["passed"] is False and v["invariants_as_expected"] is True and v["thresholds_passed"] is False


def test_unknown_passes_unless_strict():
    assert verdict(invariants(outbox=UNKNOWN))["passed"] is True
    strict = verdict(invariants(outbox=UNKNOWN), strict=True)
    assert strict["passed"] is False and strict["unknown"] == {"invariants": ["outbox"], "strict": True,
                                                               "counted_as": "fail"}


def test_validation_run_passes_when_exactly_the_expected_invariants_are_invalid():
    v = verdict(invariants(single_use=BAD, outbox=UNKNOWN), expected={"invalid": ["single_use"]},
                bugs=["code-reuse"])
    assert v["passed"] is True and v["invariants"]["single_use"]["expected"] == "invalid"


def test_validation_run_fails_when_the_planted_bug_is_not_detected():
    v = verdict(invariants(), expected={"invalid": ["single_use"]})
    assert v["passed"] is False and v["expected_invalid_not_shown"] == ["single_use"]
    assert verdict(invariants(single_use=UNKNOWN), expected={"invalid": ["single_use"]})["passed"] is False


def test_validation_run_fails_when_another_invariant_is_also_invalid():
    v = verdict(invariants(single_use=BAD, expiry=BAD), expected={"invalid": ["single_use"]})
    assert v["passed"] is False and v["unexpected_invalid"] == ["expiry"]


@pytest.mark.parametrize("expected, message", [
    ({"invalid": ["nope"]}, "unknown invariants: nope"),
    ({"invalid": []}, "non-empty list"),
    ({"violations": 3}, "must be 0"),
])
def test_bad_expectation_is_a_clear_error(expected, message):
    with pytest.raises(ValueError, match=message):
        verdict(invariants(), expected=expected)


def test_thresholds_accepted_as_bools_or_records():
    v = verdict(invariants(), thresholds=[{"expr": "login.p95 < 8s", "passed": True, "value": 2}])
    assert v["thresholds"] == {"login.p95 < 8s": {"expr": "login.p95 < 8s", "passed": True, "value": 2}}
    assert verdict(invariants(), thresholds={"a": False})["thresholds"] == {"a": {"passed": False, "value": None}}
    with pytest.raises(ValueError, match="no boolean 'passed'"):
        verdict(invariants(), thresholds={"a": {"value": 1}})


# --- JUnit -----------------------------------------------------------------------------

def test_junit_has_one_case_per_invariant_and_threshold_and_failures_carry_examples(tmp_path):
    v = verdict(invariants(binding=BAD), thresholds={"login.p95 < 8s": {"passed": False, "value": 9.5},
                                                     "errors < 1%": {"passed": True, "value": 0}})
    path = tmp_path / "junit.xml"
    write_junit(v, path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(INVARIANT_NAMES) + 2 and suite.get("tests") == str(len(INVARIANT_NAMES) + 2) and suite.get("failures") == "2"
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"binding", "login.p95 < 8s"}
    assert {c.get("classname") for c in cases} == {"mfa-harness.smoke.invariants", "mfa-harness.smoke.thresholds"}
    text = failed["binding"].text
    assert "example 2:" in text and json.loads(text.splitlines()[1]) == BAD_LINE
    assert "9.5" in failed["login.p95 < 8s"].get("message")


def test_junit_unknown_is_passing_note_unless_strict(tmp_path):
    path = tmp_path / "junit.xml"
    write_junit(verdict(invariants(outbox=UNKNOWN)), path)
    case = next(c for c in ET.parse(path).getroot().iter("testcase") if c.get("name") == "outbox")
    assert case.find("failure") is None and "unknown" in case.find("system-out").text
    write_junit(verdict(invariants(outbox=UNKNOWN), strict=True), path)
    case = next(c for c in ET.parse(path).getroot().iter("testcase") if c.get("name") == "outbox")
    assert "strict" in case.find("failure").get("message")


def test_junit_expected_invalid_not_shown_is_a_failure(tmp_path):
    path = tmp_path / "junit.xml"
    write_junit(verdict(invariants(), expected={"invalid": ["expiry"]}), path)
    case = next(c for c in ET.parse(path).getroot().iter("testcase") if c.get("name") == "expiry")
    assert "expected invalid" in case.find("failure").get("message")


# --- report ----------------------------------------------------------------------------

def _run_history() -> History:
    h = History()
    h.nemesis(5.0, "start", "outage", rule=0)
    h.nemesis(65.0, "stop", "outage", rule=0)
    h.nemesis(100.0, "start", "delay", rule=1)
    for i in range(1, 6):
        h.login(20.0 * i, i, i, pid=1)
    h.flow(130.0, "expired", flow="late", resends=2)
    return h


def test_report_is_self_contained_and_shows_everything(tmp_path):
    h = _run_history()
    lines = h.lines()
    inv = check(lines, CheckContext(accounts=[account(1)]))
    inv["binding"] = BAD
    v = verdict(inv, bugs=["code-not-bound"])
    v["metrics"] = flow_metrics(lines)
    v["reproduce"] = "mfa-harness run smoke --seed 7"
    path = tmp_path / "report.html"
    write_report(v, lines, path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external resources"
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for name in INVARIANT_NAMES:
        assert f"<td>{name}</td>" in page
    assert "login.p95 &lt; 8s" in page
    for title in ("Login time distribution", "Code delivery delay distribution", "Login outcomes over time",
                  "Resends per login"):
        assert f"<title>{title}</title>" in page
    assert page.count("<svg") == 4 and 'class="fault"' in page        # fault windows shaded
    assert "mfa-harness run smoke --seed 7 --time-scale 20.0 --bug code-not-bound" in page


def test_report_page_parses_as_xml_fragments_of_svg():
    page_svg = histogram_svg([1.0, 2.0, 2.5, 9.0], "Login time distribution", "s")
    root = ET.fromstring(page_svg)
    assert root.tag.endswith("svg") and len([e for e in root.iter() if e.tag.endswith("rect")]) == 20


def test_report_without_data_still_renders(tmp_path):
    path = tmp_path / "report.html"
    write_report(verdict(invariants()), [], path)
    assert "No data for login time distribution" in path.read_text(encoding="utf-8")


def test_fault_windows_pair_start_and_stop_and_keep_open_ones():
    assert fault_windows(_run_history().lines()) == [(5.0, 65.0, "outage"), (100.0, None, "delay")]


def test_junit_is_never_green_while_the_run_failed(tmp_path):
    """A run with problems used to write tests="11" failures="0" errors="0" and leave the thresholds out."""
    from mfa_harness.scenarios.verdict_io import compute_verdict

    hist = History()
    run_info = {"scenario": "smoke", "seed": 1, "time_scale": 60.0, "locust_exit": 2,
                "thresholds_asked": ["flow.p95 < 8s", "loops == 0"], "thresholds": {},
                "phases": {"locust_s": 12.5}}
    v = compute_verdict(hist.lines(), run_info)
    path = tmp_path / "junit.xml"
    write_junit(v, path)
    suite = ET.parse(path).getroot().find("testsuite")
    errors = {c.get("name"): c.find("error") for c in suite.iter("testcase") if c.find("error") is not None}
    assert int(suite.get("errors")) == len(errors) >= 3
    messages = " | ".join(e.get("message") for e in errors.values())
    assert "Locust exited with 2" in messages and "no login flow finished" in messages
    assert {"flow.p95 < 8s", "loops == 0"} <= set(errors)          # thresholds are always present
    assert "not evaluated" in errors["loops == 0"].get("message")
    threshold_case = next(c for c in suite.iter("testcase") if c.get("name") == "loops == 0")
    assert threshold_case.get("time") == "12.500"                  # the load's real (wall) time


def test_junit_times_are_real_and_messages_carry_units(tmp_path):
    hist = History()
    v = verdict(invariants(), thresholds={"flow.p95 < 8s": {"passed": False, "value": 300.799, "op": "<",
                                                            "limit": 8.0, "unit": "s scenario time"}})
    v["timings"] = {"check_s": {"binding": 0.0123}, "load_wall_s": 10.0}
    path = tmp_path / "junit.xml"
    write_junit(v, path)
    cases = {c.get("name"): c for c in ET.parse(path).getroot().iter("testcase")}
    assert cases["binding"].get("time") == "0.012"
    message = cases["flow.p95 < 8s"].find("failure").get("message")
    assert "value 300.8 s scenario time" in message and "limit < 8 s scenario time" in message, message
    del hist


def test_the_summary_names_each_metric_once_with_its_time_axis(tmp_path, capsys):
    from mfa_harness.scenarios.verdict_io import print_summary

    h = History()
    v = verdict(invariants(), thresholds={"flow.p95 < 8s": {"passed": True, "value": 3.2, "unit": "s scenario time"}})
    v["metrics"] = flow_metrics(h.lines())
    print_summary(v, tmp_path, 0)
    out = capsys.readouterr().out
    assert "flow.p95" in out and "login_ok.p95" in out and "(scenario time)" in out
    assert "value 3.2 s scenario time" in out
    assert re.search(r"\bp95 [\d.]+ s\b", out) is None            # no bare "p95": which flows would it be?


def test_the_report_says_why_a_run_failed(tmp_path):
    v = verdict(invariants())
    v["problems"] = ["only 19 of 20 users ran at the peak"]
    v["passed"] = False
    path = tmp_path / "report.html"
    write_report(v, [], path)
    page = path.read_text(encoding="utf-8")
    assert "PROBLEM</th><td class=\"fail\">only 19 of 20 users ran at the peak" in page


# --- charts a person would rather look at than read (issue 14) -------------------------------------

def test_ticks_are_nice_numbers_covering_the_data():
    from mfa_harness.scenarios.charts import nice_ticks

    assert nice_ticks(0, 960) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0, 37, 4, integer=True) == [0, 10, 20, 30, 40]
    assert nice_ticks(0.013, 0.087) == [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
    assert nice_ticks(0, 3, 4, integer=True) == [0, 1, 2, 3]


def _long_run() -> tuple[dict, list]:
    h = History()
    h.nemesis(120.0, "start", "outage", rule=0)
    h.nemesis(240.0, "stop", "outage", rule=0)
    for i in range(60):
        h.flow(10.0 * i + 5, "ok" if i % 7 else "expired", flow=f"f{i}", resends=0 if i % 5 else 1 + i % 3)
    v = verdict(invariants())
    v["metrics"] = flow_metrics(h.lines())
    v["faults"] = [{"kind": "outage", "start": 120, "end": 240}, {"kind": "delay", "to": "a@*", "start": 0,
                                                                   "distribution": "fixed", "seconds": 90}]
    return v, h.lines()


def _outcome_chart(page: str) -> str:
    return page.split('aria-label="Login outcomes over time"', 1)[1].split("</svg>", 1)[0]


def test_time_axis_ends_with_the_run_and_marks_the_end_of_load():
    from mfa_harness.scenarios.report import render_report

    v, lines = _long_run()                    # flows until 595 s, load for 600 s
    chart = _outcome_chart(render_report(v, lines, load_end=600.0))
    ticks = [float(t.replace(",", "")) for t in re.findall(r'class="xtick"[^>]*>([^<]+)<', chart)]
    assert ticks and max(ticks) <= 660 and ticks == sorted(ticks)
    assert "load ended (600 s)" in chart


def test_fault_windows_lie_behind_the_bars_and_match_the_legend():
    from mfa_harness.scenarios.charts import FAULT_FILL
    from mfa_harness.scenarios.report import render_report

    v, lines = _long_run()
    page = render_report(v, lines, load_end=600.0)
    chart = _outcome_chart(page)
    assert chart.index('class="fault"') < chart.index('class="bar"')      # painted first: behind
    band = re.search(r'<rect class="fault"[^>]*>', chart).group(0)
    assert f'fill="{FAULT_FILL}"' in band and "opacity" not in band
    assert f'<i style="background:{FAULT_FILL}"></i>fault window' in page


def test_resends_per_login_is_not_one_huge_bar_and_cells_are_not_json():
    from mfa_harness.scenarios.report import render_report, resend_buckets

    assert resend_buckets([0, 0, 1, 2, 7]) == {"1": 1, "2": 1, "3": 0, "4": 0, "5+": 1}
    v, lines = _long_run()
    page = render_report(v, lines, load_end=600.0)
    assert "48 of 60 logins (80%) needed no resend" in page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    assert not [c for c in cells if re.match(r"\s*(\{|\[|&#x27;|&quot;)", c)], "raw JSON in a cell"
    assert "{&quot;" not in page.split("<h2>Faults</h2>", 1)[1]


def test_evidence_counts_reach_junit_report_and_verdict(tmp_path):
    """Each invariant's cases checked: a testcase property and the failure message in JUnit, a
    column in the report, and the answer itself in verdict.json."""
    counted = {**BAD, "checked": 40}
    v = verdict(invariants(binding=counted, outbox={**UNKNOWN, "checked": 0}))
    assert v["invariants"]["binding"]["checked"] == 40
    path = tmp_path / "junit.xml"
    write_junit(v, path)
    cases = {c.get("name"): c for c in ET.parse(path).getroot().iter("testcase")}
    assert cases["binding"].find("properties/property[@name='checked']").get("value") == "40"
    assert cases["binding"].find("failure").get("message") == "2 violation(s) in 40 case(s)"
    assert "0 case(s) checked" in cases["outbox"].find("system-out").text
    write_report(v, [], tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<th>cases checked</th>" in page and "<td>40</td>" in page


def test_every_value_on_the_report_is_escaped_by_the_template():
    """report.html is a template with autoescape: a hostile scenario name, problem, note (reason),
    threshold, metric, fault window, planned fault and outcome come out as text, never as markup.
    (Turning autoescape off in the template loader of report.py or of charts.py makes this fail.)"""
    from mfa_harness.scenarios.report import render_report

    evil = "<script>alert(1)</script>"
    h = History()
    h.nemesis(5.0, "start", evil, rule=0)
    h.flow(10.0, evil, persona=evil)
    v = verdict(invariants(binding={**OK, "reason": evil}),
                thresholds={evil: {"passed": False, "value": evil}}, bugs=[evil])
    v.update(expected={"invalid": [evil]}, scenario=evil, problems=[evil], reproduce=evil, metrics={evil: evil, "x_s": evil},
             faults=[{"kind": evil, "to": evil, evil: evil}])
    page = render_report(v, h.lines(), load_end=60.0)
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for where in ("<h1>", "<title>mfa-harness: ", '<td class="fail">', "<li>reason: ", "<code>",
                  '<span data-outcome="', "<th>", "<li>invalid: "):
        assert where + escaped in page, where
