"""The end of a run on the process that reports it (a standalone runner or a master).

The JSON summary, the process exit code, and closing (and on a master, sorting) the history
file. Exit codes: 0; 3 a threshold was missed; 2 a setup problem (bad options, unreadable
accounts, a refused target); 1 an inbox request failed or no login flow succeeded.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mfa_harness.errors import tell_parent

from . import thresholds as thresholds_mod
from .history import FileSink
from .metrics import OUTCOMES

if TYPE_CHECKING:
    from .harness import Harness

log = logging.getLogger("loadtests")
EXIT_FAILURES = 1             # Locust's own code for "requests failed"
EXIT_SETUP = 2


def fail_setup(message: str) -> NoReturn:
    """Stop Locust before any load with one line and exit code 2."""
    sys.stderr.write(f"mfa-harness: {message}\n")
    sys.stderr.flush()
    tell_parent(message)       # for the runner waiting for the ready line (scenarios/stack.py)
    sys.exit(EXIT_SETUP)


def summary(h: Harness) -> dict[str, Any]:
    """The `--summary-file` document (docs/interfaces.md "Summary")."""
    total = h.environment.stats.total
    results = thresholds_mod.evaluate(h.thresholds, h.metrics, total)
    http = thresholds_mod.http_values(total)
    for p in ("p50", "p95", "p99"):
        http[p] = thresholds_mod.http_percentile(total, p)
    counters = h.metrics.counters
    outcomes = {k: int(h.metrics.outcomes.get(k, 0)) for k in OUTCOMES}
    outcomes.update({k: int(v) for k, v in h.metrics.outcomes.items() if k not in outcomes})
    return {
        "profile": h.profile.name, "time_scale": h.timebase.scale, "epoch": h.timebase.epoch,
        "personas": h.weights, "flows": h.metrics.flows(), "outcomes": outcomes,
        "flow": {"success_rate": h.metrics.success_rate()},
        "loops": int(counters.get("loops", 0)),
        "loop_breaker": int(counters.get("loop_breaker", 0)),
        "arrivals": {"rate_per_scenario_s": h.opts.arrival_rate,
                     "started": int(counters.get("arrivals_started", 0)),
                     "dropped": int(counters.get("arrivals_dropped", 0))},
        "metrics": h.metrics.summary(),
        "http": http,
        "history_lines": h.history.count,
        "workers_reported": sorted(h.run.final_from),
        "users_without_account": dict(h.no_account),
        "thresholds": results,
        "thresholds_passed": all(r["passed"] for r in results.values()),
        "aborted_by": h.run.aborted,
        "run": h.load.facts(h.run.aborted),
        "inbox": {"failures": h.inbox_failures()},
    }


def finish(h: Harness, close: bool = True) -> None:
    """Write the summary (again: the latest stats win), set the exit code; at the very end close the history."""
    doc = summary(h)
    if close and not h.summary_written:
        h.summary_written = True
        close_history(h)
    if h.opts.summary_file:
        path = Path(h.opts.summary_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    failed = [e for e, r in doc["thresholds"].items() if not r["passed"]]
    for expr in failed if close else []:
        log.error("threshold missed: %s (value %s)", expr, doc["thresholds"][expr]["value"])
    h.environment.process_exit_code = exit_code(h, doc, failed, log_failures=close)


def exit_code(h: Harness, doc: dict[str, Any], failed: list[str], log_failures: bool) -> int | None:
    """Setup failure, then a missed threshold, then failed inbox reads or no successful login."""
    if h.setup_failed:
        return EXIT_SETUP
    if failed:
        return thresholds_mod.EXIT_THRESHOLD
    if doc["inbox"]["failures"] or (doc["flows"] and not doc["outcomes"].get("ok")):
        # inbox failures are kept out of the portal's "Aggregated" row, so Locust would not count
        # them; and a run where nobody signed in did not pass, whatever the requests said
        if log_failures:
            log.error("%d inbox request(s) failed; %d of %d login flows succeeded",
                      doc["inbox"]["failures"], doc["outcomes"].get("ok", 0), doc["flows"])
        return EXIT_FAILURES
    return None


def close_history(h: Harness) -> None:
    """Close the file; on the master, sort the merged lines by wall time (stable, per-proc order kept)."""
    sink = h.history.sink
    sink.close()
    if not isinstance(sink, FileSink):
        return
    if h.role.merges_history:
        sort_history_file(sink.path)
    if sink.late:
        log.warning("%d history lines came after the summary and are not in %s", sink.late, sink.path)


def sort_history_file(path: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
    """Order a merged history by `wall` (lines of each worker arrive in batches, interleaved)."""
    if not path.exists() or path.stat().st_size > max_bytes:
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.sort(key=lambda line: json.loads(line).get("wall", 0.0))
    tmp = path.with_suffix(path.suffix + ".sorting")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)
