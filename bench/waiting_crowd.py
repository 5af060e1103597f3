"""Waiting crowd: 10,000 simulated users holding a pending login and waiting on the inbox at once.

The inbox holds every code email back (a delay fault longer than the run), so each user who
signed in stays parked in the inbox's long-poll ``wait``, as during a mail outage at peak.
Locust runs the ``careful`` persona at time scale 1 (slow, human pacing) and spawns users as
fast as the portal signs them in; once the inbox reports the whole crowd waiting (or at the
time limit) the crowd is held a few seconds and Locust is stopped. Reported absolutely:
errors, peak RSS of Locust, inbox and portal, and how many were waiting at once.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.locust_run import LOCUSTFILE, run_locust
from bench.measure import Goal, absolute_figure, result
from mfa_harness.harness_http import InboxApi
from mfa_harness.scenarios.stack import LocalStack, StackConfig

NAME = "waiting_crowd"
TITLE = "waiting crowd: users parked on the inbox at once (absolute: errors, peak RSS)"
MB = 2**20


@dataclass(frozen=True)
class Params:
    users: int
    spawn_rate: int
    limit_s: int      # bound on the whole Locust run
    processes: int    # Locust processes: each simulated user holds two sockets (portal, inbox)
    hold_s: float = 5.0


# 10,000 users need ~20,000 sockets, the usual per-process limit: two Locust processes share them.
# The spawn rate is what the portal signs in on two shared cores (faster only queues logins into timeouts).
SIZES = {"tiny": Params(users=150, spawn_rate=75, limit_s=40, processes=2),
         "full": Params(users=10_000, spawn_rate=50, limit_s=260, processes=2)}


def flow_errors(history: Path) -> tuple[int, dict[str, int]]:
    """Flows that ended in error (stopped flows are not errors), and outcomes by name."""
    outcomes: dict[str, int] = {}
    if not history.exists():
        return 0, outcomes
    with open(history, encoding="utf-8") as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("op") == "flow":
                outcome = str((line.get("value") or {}).get("outcome"))
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes.get("error", 0), outcomes


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    epoch = time.time()
    partners = math.ceil(p.users * 1.3) + 20  # ~90% of seeded accounts are partners (agency or reseller)
    stack = LocalStack(StackConfig(out=work / "stack", epoch=epoch, time_scale=1.0, seed=6, partners=partners,
                                   password_profile="cheap"))
    hist = work / "crowd.jsonl"
    try:
        stack.start()
        assert stack.portal is not None and stack.inbox is not None
        inbox = InboxApi(stack.inbox_url, timeout=10)
        inbox.set_faults([{"kind": "delay", "distribution": "fixed", "seconds": 3600}], seed=1)
        portal_pid, inbox_pid = stack.portal.proc.pid, stack.inbox.proc.pid
        reached: list[float] = []

        def waiters(_pid: int) -> float:
            return float(inbox.info()["Waiters"])

        def crowd_held(series: list[tuple[float, dict[str, float]]]) -> bool:
            if not reached and series[-1][1].get("waiters", 0) >= p.users:
                reached.append(series[-1][0])
            return bool(reached) and time.time() - reached[0] >= p.hold_s

        run = run_locust(LOCUSTFILE, stack.portal_url, p.users, p.spawn_rate, p.limit_s, work, "crowd",
                         extra=["--inbox-url", stack.inbox_url, "--accounts-url", stack.portal_url + "/_harness/accounts",
                                "--time-scale", "1", "--epoch", repr(epoch), "--history-file", str(hist),
                                "--summary-file", str(work / "crowd-summary.json"), "--personas", "careful=1",
                                "--processes", str(p.processes)],
                         series={"locust_rss": procs.group_rss_bytes,
                                 "portal_rss": lambda _p: procs.group_rss_bytes(portal_pid),
                                 "inbox_rss": lambda _p: procs.group_rss_bytes(inbox_pid),
                                 "waiters": waiters},
                         stop_when=crowd_held, grace=90.0)
    finally:
        stack.stop()
    peak = {k: max((s[1].get(k, 0.0) for s in run.series), default=0.0)
            for k in ("locust_rss", "portal_rss", "inbox_rss", "waiters")}
    locust_peak = peak["locust_rss"]  # the whole Locust process group (master and workers)
    agg = run.aggregated()
    # every request row, the inbox's own type included (Locust's "Aggregated" row leaves it out)
    failures = sum(int(r.get("Failure Count") or 0) for r in run.rows()
                   if r.get("Name") != "Aggregated" and r.get("Type") != "FLOW")
    flow_err, outcomes = flow_errors(hist)
    errors = failures + flow_err
    figures = [
        absolute_figure("errors", errors, "", Goal("<=", 0, "no errors"),
                        note=f"{failures} failed requests, {flow_err} flows ended in error"),
        absolute_figure("waiting at once (peak)", peak["waiters"], "users",
                        Goal(">=", p.users, f"all {p.users:,} users waiting on the inbox at once")),
        absolute_figure("Locust peak RSS", locust_peak / MB, "MB", Goal("<=", 1536, "Locust <= 1.5 GB")),
        absolute_figure("inbox peak RSS", peak["inbox_rss"] / MB, "MB", Goal("<=", 300, "inbox <= 300 MB")),
        absolute_figure("portal peak RSS", peak["portal_rss"] / MB, "MB", Goal("<=", 300, "portal <= 300 MB")),
    ]
    reached_after = (reached[0] - run.series[0][0]) if reached and run.series else None
    return result(NAME, TITLE, size, figures, started,
                  params={"users": p.users, "spawn_rate": p.spawn_rate, "locust_processes": p.processes, "limit_s": p.limit_s, "hold_s": p.hold_s,
                          "partners": partners, "personas": "careful=1", "time_scale": 1.0},
                  extra={"locust_rc": run.returncode, "locust_wall_s": round(run.wall_s, 1),
                         "crowd_reached_after_s": None if reached_after is None else round(reached_after, 1),
                         "requests": agg.get("Request Count"), "flow_outcomes": outcomes,
                         "failures": run.failures(), "locust_log_tail": run.log_tail(),
                         "stats": [{k: r.get(k) for k in ("Type", "Name", "Request Count", "Failure Count",
                                                          "Median Response Time", "99%")} for r in run.rows()]})
