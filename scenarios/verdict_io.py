"""Turn a run's merged history into its verdict, JUnit XML and report, and an exit code.

Shared by `mfa-harness run` (right after the run) and `mfa-harness check DIR` (offline, from the
saved history and run.json), so both give the same verdict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mfa_harness.checker import CheckContext, check
from mfa_harness.errors import EXIT_INVARIANT, EXIT_OK, EXIT_SETUP, EXIT_THRESHOLD

from .judged_policy import announced_policy, policy_block
from .junit import write_junit
from .metrics import flow_metrics
from .report import write_report
from .run_record import RunRecord
from .server_answers import (
    DEFAULT_MAX_ERROR_SHARE,
    error_share_problem,
    example_line,
    server_answers,
    unclassified_text,
)
from .verdict import build_verdict, threshold_text


def effective_policy(history: list[dict[str, Any]], overrides: dict[str, Any]) -> dict[str, Any]:
    """The portal announces its effective policy in `portal_started`; fall back to the overrides."""
    announced = announced_policy(history)
    return announced if announced is not None else dict(overrides)


# Locust's own exit codes that still mean it ran the load: 0, 1 (some requests failed), 3 (ours:
# a threshold missed). 2 is a usage error before any user started.
LOCUST_RAN = (0, 1, 3)


def as_record(run: RunRecord | dict[str, Any]) -> RunRecord:
    """A run record, from run.json's dict (or part of one) when that is what was given."""
    return run if isinstance(run, RunRecord) else RunRecord.from_json(run)


def run_problems(run: RunRecord | dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """Why a run did less than its scenario asked: such a run cannot pass, whatever the checker found
    in what little history there is (a misspelled option must not read as a clean bill of health)."""
    record = as_record(run)
    problems = []
    code = record.locust_exit
    if code is not None and code not in LOCUST_RAN:
        problems.append(f"Locust exited with {code} (see logs/ and locust output): the load did not run as asked")
    if not (metrics.get("logins_ok") or 0) + (metrics.get("logins_failed") or 0):
        problems.append("no login flow finished: nothing was measured")
    elif not metrics.get("logins_ok"):
        problems.append(f"no login flow succeeded ({metrics.get('logins_failed')} failed): a run where nobody "
                        "signs in is never a pass")
    problems += record.load.problems() if record.load else []
    missing = [t for t in record.thresholds_asked if t not in record.thresholds]
    if missing:
        problems.append(f"threshold(s) not evaluated (no Locust summary): {', '.join(missing)}")
    if record.nemesis_errors:
        problems.append(f"{len(record.nemesis_errors)} scheduled nemesis action(s) failed, "
                        f"first: {record.nemesis_errors[0]}")
    return problems


def exit_code(verdict: dict[str, Any]) -> int:
    """0 pass; 1 an invariant verdict is not as expected; 2 the run did less than asked (problems);
    3 only thresholds missed."""
    if verdict.get("passed"):
        return EXIT_OK
    if not verdict.get("invariants_as_expected", True):
        return EXIT_INVARIANT
    if verdict.get("problems"):
        return EXIT_SETUP
    if any(not t.get("passed") for t in verdict.get("thresholds", {}).values()):
        return EXIT_THRESHOLD
    return EXIT_INVARIANT


def compute_verdict(history: list[dict[str, Any]], run: RunRecord | dict[str, Any]) -> dict[str, Any]:
    """The verdict of a run's history: invariants, thresholds, metrics and the run's problems; `passed`
    is decided once, in build_verdict, from all three."""
    record = as_record(run)
    ctx = CheckContext(policy=effective_policy(history, record.policy), white_box=bool(record.white_box),
                       time_scale=float(record.time_scale), fault_plan=record.fault_plan, bugs=list(record.bugs),
                       accounts=record.accounts or None)
    timings: dict[str, float] = {}
    invariants = check(history, ctx, timings)
    metrics = flow_metrics(history)
    thresholds = dict(record.thresholds)
    for expr in record.thresholds_asked:       # always present, evaluated or not
        thresholds.setdefault(expr, {"passed": False, "value": None,
                                     "note": "not evaluated: Locust wrote no summary"})
    answers = server_answers(history)
    problems = run_problems(record, metrics)
    max_share = DEFAULT_MAX_ERROR_SHARE if record.max_error_share is None else record.max_error_share
    too_many = error_share_problem(answers, float(max_share))
    if too_many:
        problems.append(too_many)
    verdict = build_verdict(
        scenario=record.scenario, seed=record.seed, time_scale=record.time_scale,
        invariants=invariants, thresholds=thresholds, metrics=metrics,
        faults=record.fault_plan.get("rules", []) + record.nemesis,
        bugs=record.bugs, expected=record.expected, strict=record.strict, problems=problems,
    )
    if record.nemesis_errors:
        verdict["nemesis_errors"] = record.nemesis_errors
    verdict["problems"] = problems
    verdict["policy"] = policy_block(record, history, ctx.policy)
    verdict["server_answers"] = answers
    verdict["reproduce"] = record.command
    verdict["load"] = record.load.to_json() if record.load else {}
    verdict["timings"] = {"check_s": {k: round(v, 6) for k, v in timings.items()},
                          "load_wall_s": record.phases.get("locust_s")}
    return verdict


def finish_run(out: Path, history: list[dict[str, Any]], run: RunRecord | dict[str, Any], *,
               quiet: bool = False) -> int:
    """Write verdict.json, junit.xml and report.html into `out`; print the outcome; exit code."""
    record = as_record(run)
    verdict = compute_verdict(history, record)
    (out / "verdict.json").write_text(json.dumps(verdict, indent=2, default=str), encoding="utf-8")
    examples = out / "unclassified.txt"
    if verdict["server_answers"]["unclassified"]:
        examples.write_text(unclassified_text(verdict["server_answers"]), encoding="utf-8")
    else:
        examples.unlink(missing_ok=True)          # `check` after a profile fix: no stale examples
    write_junit(verdict, out / "junit.xml")
    write_report(verdict, history, out / "report.html", load_end=record.duration)
    code = exit_code(verdict)
    if not quiet:
        print_summary(verdict, out, code)
    return code


def print_summary(verdict: dict[str, Any], out: Path, code: int) -> None:
    m = verdict.get("metrics", {})
    lines = [f"scenario {verdict.get('scenario')} (seed {verdict.get('seed')}, time scale {verdict.get('time_scale')})"
             + (f", planted bugs: {', '.join(verdict['bugs'])}" if verdict.get("bugs") else "")]
    for name, inv in verdict.get("invariants", {}).items():
        state = {True: "valid", False: "INVALID"}.get(inv.get("valid"), "unknown")
        lines.append(f"  {name:22s} {state:8s} violations {inv.get('violations', 0)}  cases {inv.get('checked', '?')}")
    for expr, t in verdict.get("thresholds", {}).items():
        lines.append(f"  threshold {expr!r}: {'met' if t.get('passed') else 'MISSED'} ({threshold_text(t)})")
    lines.append(f"  logins ok {m.get('logins_ok')} failed {m.get('logins_failed')}  "
                 f"flow.p95 {m.get('flow_p95_s')} s  login_ok.p50 {m.get('login_ok_p50_s')} s  "
                 f"login_ok.p95 {m.get('login_ok_p95_s')} s (scenario time)  "
                 f"loops {m.get('loops')}  resends {m.get('resends')}")
    load = verdict.get("load") or {}
    if load.get("users_asked") is not None:
        workers = (f"workers reported {load.get('workers_reported')} of {load['workers_asked']}"
                   if load.get("workers_asked") else "one Locust process")
        lines.append(f"  users asked {load.get('users_asked')}, peak {load.get('users_peak')}; {workers}"
                     + (f"; stopped early: {load['stopped_early']}" if load.get("stopped_early") else ""))
    lines += answers_lines(verdict.get("server_answers") or {}, out)
    policy = verdict.get("policy") or {}
    if policy:
        lines.append(f"  judged against: {policy.get('source')}")
    lines += [f"  PROBLEM: {p}" for p in verdict.get("problems", [])]
    lines.append(f"{'PASS' if verdict.get('passed') else 'FAIL'} (exit {code}) — report: {out / 'report.html'}")
    print("\n".join(lines), file=sys.stdout)


def answers_lines(answers: dict[str, Any], out: Path) -> list[str]:
    """The summary's line on 5xx and unclassified answers, with the first unclassified page's excerpt."""
    if not answers.get("server_errors") and not answers.get("unclassified"):
        return []
    lines = [f"  portal answers: {answers.get('server_errors')} server error(s) (5xx), {answers.get('unclassified')} "
             f"unclassified page(s) in {answers.get('steps')} steps"]
    examples = answers.get("unclassified_examples") or []
    if examples:
        lines[0] += f"; e.g. {examples[0].get('op')}: {example_line(examples[0])}"
        lines.append(f"    (examples in {out / 'unclassified.txt'}: fix the profile's [pages] to recognise them)")
    return lines


def check_dir(run_dir: Path, *, strict: bool | None = None, quiet: bool = False) -> int:
    """`mfa-harness check DIR`: the same verdict from the saved files, no servers."""
    from .collect import read_jsonl

    info_path, hist_path = run_dir / "run.json", run_dir / "history.jsonl"
    if not info_path.is_file() or not hist_path.is_file():
        print(f"mfa-harness: {run_dir} is not a finished run (needs run.json and history.jsonl)", file=sys.stderr)
        return EXIT_SETUP
    record = RunRecord.from_json(json.loads(info_path.read_text(encoding="utf-8")))
    if strict is not None:
        record.strict = strict
    return finish_run(run_dir, read_jsonl(hist_path), record, quiet=quiet)
