"""Distributed Locust on one machine: throughput per worker and the merged history's completeness.

The scale model in bench/README.md says how many Locust worker cores a rate needs; this checks
the part of it that fits on one machine. Side A is Locust's own distributed mode as a user runs
it across machines: one ``--master`` and ``WORKERS`` ``--worker`` processes, each started in a
process group of its own, talking over loopback; the workers batch their history lines to the
master, which writes the one merged file. Side B is one standalone Locust process with the same
users for the same time, against the same stack, in alternating rounds.

Figures: MFA logins/s per worker against the standalone process's (context: on 2 cores the
portal is the limit, so this shows the cost of the master and the messaging, not scaling);
Locust CPU per login in the steady window (start-up left out), all processes of side A
against side B; and completeness of the merged
history (absolute, goal 1.0): the share of client operations whose ``invoke`` and completion
both reached the master's file (every operation completes exactly once, so a lost batch shows
as unmatched lines), with the summary's line count checked against the file's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.end_to_end import PERSONAS, TIME_SCALE, WARMUP_S, mfa_logins
from bench.locust_run import LOCUSTFILE, run_locust
from bench.measure import Goal, Side, absolute_figure, alternate, ratio_figure, result
from mfa_harness.scenarios.runner import free_port
from mfa_harness.scenarios.stack import LocalStack, StackConfig

NAME = "distributed"
TITLE = "distributed Locust (master + workers, separate process groups): logins/s per worker, merged history"
COMPLETE_GOAL = Goal(">=", 1.0, "every client operation's invoke and completion in the merged history")


@dataclass(frozen=True)
class Params:
    users: int
    seconds: int
    rounds: int
    workers: int
    partners: int


SIZES = {"tiny": Params(users=10, seconds=4, rounds=1, workers=2, partners=60),
         "full": Params(users=100, seconds=12, rounds=4, workers=2, partners=600)}


def completeness(history: Path) -> tuple[int, int, int]:
    """(client operations, of them unmatched, lines in the file): invokes and completions paired per (proc, op)."""
    pending: dict[tuple[Any, Any], int] = {}
    ops = unmatched = lines = 0
    with open(history, encoding="utf-8") as f:
        for raw in f:
            lines += 1
            line = json.loads(raw)
            if line.get("src") != "client" or line.get("op") in ("flow", "loop"):
                continue
            key = (line.get("proc"), line.get("op"))
            if line.get("type") == "invoke":
                ops += 1
                pending[key] = pending.get(key, 0) + 1
            elif pending.get(key):
                pending[key] -= 1
            else:
                unmatched += 1                          # a completion whose invoke never arrived
    return ops, unmatched + sum(pending.values()), lines


def harness_args(stack: LocalStack, epoch: float) -> list[str]:
    return ["--inbox-url", stack.inbox_url, "--accounts-url", stack.portal_url + "/_harness/accounts",
            "--time-scale", str(TIME_SCALE), "--epoch", repr(epoch), "--personas", PERSONAS]


def start_worker(stack: LocalStack, epoch: float, port: int, work: Path, tag: str) -> subprocess.Popen:
    """One `locust --worker` in a process group of its own, as on another machine."""
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(port), "--loglevel", "WARNING", *harness_args(stack, epoch)]
    with open(work / f"{tag}.log", "wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def stop_workers(workers: list[subprocess.Popen], timeout: float = 30.0) -> None:
    """Workers quit when their master does; any still running after `timeout` are killed."""
    deadline = time.monotonic() + timeout
    for w in workers:
        try:
            w.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    epoch = time.time()
    stack = LocalStack(StackConfig(out=work / "stack", epoch=epoch, time_scale=TIME_SCALE, seed=6,
                                   partners=p.partners, password_profile="cheap"))
    cpu: dict[str, list[float]] = {"distributed": [], "standalone": []}
    complete: list[float] = []
    detail: list[dict[str, Any]] = []
    try:
        stack.start()

        def distributed_round(i: int) -> float:
            port = free_port()
            tag = f"dist-{i}"
            workers = [start_worker(stack, epoch, port, work, f"{tag}-worker{k}") for k in range(p.workers)]
            hist = work / f"{tag}.jsonl"
            try:
                run = run_locust(LOCUSTFILE, stack.portal_url, p.users, p.users, p.seconds, work, tag,
                                 extra=["--master", "--expect-workers", str(p.workers), "--master-bind-host",
                                        "127.0.0.1", "--master-bind-port", str(port), *harness_args(stack, epoch),
                                        "--history-file", str(hist), "--summary-file", str(work / f"{tag}.json")],
                                 series={"locust": lambda pid: sum(procs.group_cpu_seconds(g) for g in
                                                                   [pid, *(w.pid for w in workers)]),
                                         "master": procs.group_cpu_seconds})
            finally:
                stop_workers(workers)
            return record(i, "distributed", run, hist, work / f"{tag}.json")

        def standalone_round(i: int) -> float:
            tag = f"single-{i}"
            hist = work / f"{tag}.jsonl"
            run = run_locust(LOCUSTFILE, stack.portal_url, p.users, p.users, p.seconds, work, tag,
                             extra=[*harness_args(stack, epoch), "--history-file", str(hist),
                                    "--summary-file", str(work / f"{tag}.json")],
                             series={"locust": procs.group_cpu_seconds})
            return record(i, "standalone", run, hist, work / f"{tag}.json")

        def record(i: int, side: str, run: Any, hist: Path, summary_path: Path) -> float:
            ok, _outcomes, (first, last) = mfa_logins(hist)
            ops, unmatched, lines = completeness(hist) if hist.exists() else (0, 0, 0)
            summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
            seconds = max(1e-9, last - first)
            w0, w1 = first + WARMUP_S, last - 0.5                 # steady window, as end_to_end's
            in_window = max(1, sum(1 for w in ok if w0 <= w <= w1))
            locust_cpu = run.at(w1, "locust") - run.at(w0, "locust") if run.series else 0.0
            cpu[side].append(locust_cpu / in_window)
            master_cpu = run.at(w1, "master") - run.at(w0, "master") if run.series and side == "distributed" else 0.0
            lines_in_window = lines * (w1 - w0) / seconds
            if side == "distributed":
                same_count = summary.get("history_lines") == lines
                complete.append((ops - unmatched) / ops if ops and same_count else 0.0)
            detail.append({"round": i, "side": side, "rc": run.returncode, "logins": len(ok),
                           "seconds": round(seconds, 2), "ops": ops, "unmatched": unmatched, "lines": lines,
                           "summary_lines": summary.get("history_lines"),
                           "workers_reported": summary.get("workers_reported"),
                           "locust_cpu_window_s": round(locust_cpu, 2), "logins_in_window": in_window,
                           "master_cpu_window_s": round(master_cpu, 3),
                           "master_us_per_history_line": round(master_cpu / max(1.0, lines_in_window) * 1e6, 1)})
            rate = len(ok) / seconds
            return rate / p.workers if side == "distributed" else rate

        a, b = alternate(p.rounds, distributed_round, standalone_round)
    finally:
        stack.stop()
    figures = [
        ratio_figure("MFA logins/s per worker", Side(f"{p.workers} workers + master, per worker", "logins/s", a),
                     Side("one standalone process", "logins/s", b), None),
        ratio_figure("Locust CPU per login", Side("master + workers", "ms", [x * 1e3 for x in cpu["distributed"]]),
                     Side("standalone", "ms", [x * 1e3 for x in cpu["standalone"]]), None),
        absolute_figure("merged history complete", min(complete) if complete else None, "share", COMPLETE_GOAL,
                        rounds=complete),
    ]
    return result(NAME, TITLE, size, figures, started,
                  params={"users": p.users, "seconds": p.seconds, "rounds": p.rounds, "workers": p.workers,
                          "personas": PERSONAS, "time_scale": TIME_SCALE}, extra={"runs": detail})
