"""End to end and load generator cost.

End to end: complete MFA logins/s of the whole local stack (portal with the cheap password
profile + inbox + Locust with the default personas, no faults) against a Tornado hello-world
driven by the same Locust FastHttpUser setup (same users, spawn rate and duration), in
alternating rounds. A complete MFA login is a partner ``flow`` line with outcome ``ok`` in
the client history (code read from the inbox, verified, account page served).

Load generator cost (context since issue 15: a goal on it rewarded an expensive portal): in
the same stack rounds, CPU seconds of the Locust process per completed login against CPU
seconds of the portal per completed login; beside it the inbox's CPU seconds per completed
login against the portal's (the third process sharing the machine).

Context figures (no goal) say how far each goal is from what this machine allows, measured
in the same rounds: Locust CPU per request in the stack (the harness's browser-like client)
against bare FastHttpUser in the hello-world rounds; the *floor* of the cost ratio, which a
client with no logic beyond FastHttpUser's own request would reach (requests per login x
hello-world Locust CPU per request, over portal CPU per login); and the *ceiling* of the end
to end ratio, the one a portal whose every request cost no more than hello-world's would
reach (1 / HTTP requests per login).

Generator against its own floor (issue 15): a third side in the same rounds runs
``bare_mfa_locustfile.py``, a bare FastHttpUser making the stack rounds' request mix against the
same portal and inbox (same pages, POSTs, redirects, long-polls and pacing, none of the harness's
logic). The harness's Locust CPU per request against that bare client's is the generator goal;
per login, the floor is the harness's requests per login times the bare client's CPU per request.
Against hello-world's bare requests (tiny pages, no POSTs, no cookies, a server answering at once
so the loop batches its wake-ups) the same bare client already costs ~2-3x, so that ratio stays
as context.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.locust_run import BARE_MFA_LOCUSTFILE, HELLO_LOCUSTFILE, LOCUSTFILE, LocustRun, run_locust
from bench.measure import Goal, Side, alternate, ratio_figure, result
from mfa_harness.scenarios.stack import LocalStack, StackConfig

NAME = "end_to_end"
TITLE = "end to end: MFA logins/s of the stack vs hello-world req/s; Locust CPU vs portal CPU per login"
E2E_GOAL = Goal(">=", 0.035, "stack logins/s >= 0.035 x hello-world req/s")
CLIENT_GOAL = Goal("<=", 1.5, "harness Locust CPU per request <= 1.5 x a bare FastHttpUser's, same request mix")
PERSONAS = "careful=3,hasty=1,affiliate=1"
WARMUP_S = 1.5      # after the first history line: users spawned, connections open
TIME_SCALE = 100.0  # user pauses of 5-30 scenario s become 0.05-0.3 s; codes live 3 s of wall time


@dataclass(frozen=True)
class Params:
    users: int
    seconds: int
    rounds: int
    partners: int


SIZES = {"tiny": Params(users=10, seconds=4, rounds=2, partners=60),
         "full": Params(users=100, seconds=12, rounds=5, partners=600)}


def mfa_logins(history: Path) -> tuple[list[float], dict[str, int], tuple[float, float]]:
    """Wall times of partner flows that ended ok, flow outcomes by persona, (first, last) line wall."""
    ok: list[float] = []
    outcomes: dict[str, int] = {}
    first, last = float("inf"), 0.0
    if not history.exists():
        return ok, outcomes, (0.0, 0.0)
    with open(history, encoding="utf-8") as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            wall = float(line.get("wall") or 0.0)
            first, last = min(first, wall), max(last, wall)
            if line.get("op") != "flow":
                continue
            outcome = (line.get("value") or {}).get("outcome")
            key = f"{line.get('persona')}:{outcome}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if outcome == "ok" and line.get("persona") != "affiliate":
                ok.append(wall)
    return ok, outcomes, (first, last)


@dataclass
class StackRound:
    """One Locust run against the stack: logins, and CPU and requests in its steady window."""

    logins: int                 # partner flows that ended ok, whole run
    in_window: int              # ... of them inside the steady window (at least 1)
    cpu: dict[str, float]       # CPU seconds of locust, portal and inbox inside the window
    requests: float | None      # HTTP requests (portal + inbox) inside the window, None without data
    inbox_requests: float       # ... of them to the inbox
    detail: dict[str, Any]


def measure_stack_round(stack: LocalStack, users: int, seconds: int, work: Path, tag: str,
                        epoch: float) -> StackRound:
    """Drive `stack` with the default personas for `seconds`; CPU per login in the steady window
    (Locust's start-up and shutdown left out)."""
    assert stack.portal is not None and stack.inbox is not None
    portal_pid, inbox_pid = stack.portal.proc.pid, stack.inbox.proc.pid
    hist = work / f"{tag}.jsonl"
    run = run_locust(LOCUSTFILE, stack.portal_url, users, users, seconds, work, tag,
                     extra=["--inbox-url", stack.inbox_url, "--accounts-url",
                            stack.portal_url + "/_harness/accounts", "--time-scale", str(TIME_SCALE),
                            "--epoch", repr(epoch), "--history-file", str(hist),
                            "--summary-file", str(work / f"{tag}-summary.json"), "--personas", PERSONAS],
                     series={"locust": procs.cpu_seconds, "portal": lambda _p: procs.group_cpu_seconds(portal_pid),
                             "inbox": lambda _p: procs.group_cpu_seconds(inbox_pid)})
    ok_walls, outcomes, (first, last) = mfa_logins(hist)
    w0, w1 = first + WARMUP_S, last - 0.5
    in_window = max(1, sum(1 for w in ok_walls if w0 <= w <= w1))
    cpu = {k: run.at(w1, k) - run.at(w0, k) for k in ("locust", "portal", "inbox")} if run.series \
        else {"locust": 0.0, "portal": 0.0, "inbox": 0.0}
    agg = run.aggregated()
    portal_reqs = run.requests_between(w0, w1)
    inbox_reqs = sum(int(r.get("Request Count") or 0) for r in run.rows() if r.get("Type") == "INBOX")
    # inbox requests are counted per run (not per second): scale them by this window's logins
    window_inbox = inbox_reqs * in_window / max(1, len(ok_walls))
    requests = portal_reqs + window_inbox if portal_reqs else None
    detail = {"side": "stack", "rc": run.returncode, "logins": len(ok_walls), "outcomes": outcomes,
              "locust_cpu_total_s": round(run.cpu_s, 2), "window_s": round(w1 - w0, 2),
              "logins_in_window": in_window, "locust_cpu_window_s": round(cpu["locust"], 2),
              "portal_cpu_s": round(cpu["portal"], 2), "inbox_cpu_s": round(cpu["inbox"], 2),
              "requests": agg.get("Request Count"), "failures": agg.get("Failure Count")}
    return StackRound(len(ok_walls), in_window, cpu, requests, window_inbox, detail)


def steady_cpu_per_request(run: LocustRun, users: int, probe: str = "locust", skip_s: float = 0.0) -> float | None:
    """CPU seconds of `probe` per request while all `users` ran (per-second stats history), None without data."""
    counts = [c for c in run.request_counts() if c[1] >= users and c[2] > 0]
    if len(counts) < 2 or not run.series:
        return None
    w0, w1 = counts[0][0] + skip_s, counts[-1][0]          # all users running, before the stop
    n = run.requests_between(w0, w1)
    return (run.at(w1, probe) - run.at(w0, probe)) / n if n else None


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    epoch = time.time()
    stack = LocalStack(StackConfig(out=work / "stack", epoch=epoch, time_scale=TIME_SCALE, seed=6,
                                   partners=p.partners, password_profile="cheap"))
    hello = None
    cost: dict[str, list[float]] = {"locust": [], "portal": [], "inbox": []}
    detail: list[dict[str, Any]] = []
    try:
        stack.start()
        hello = procs.python_child("hello", "bench.hello_app", [], work)
        assert stack.portal is not None and stack.inbox is not None
        hello_pid = hello.proc.pid
        # per round index: a side that measured nothing in a round (too short to be steady on a busy
        # machine) leaves a gap, and each figure pairs only the rounds both of its sides measured
        per_req: dict[str, dict[int, float]] = {k: {} for k in (
            "stack_locust", "hello_locust", "hello_server", "bare_mix_locust", "requests_per_login",
            "inbox_requests_per_login", "portal_per_login")}

        def stack_round(i: int) -> float:
            r = measure_stack_round(stack, p.users, p.seconds, work, f"stack-{i}", epoch)
            for k in cost:
                cost[k].append(r.cpu[k] / r.in_window)
            per_req["portal_per_login"][i] = r.cpu["portal"] / r.in_window
            if r.requests:
                per_req["stack_locust"][i] = r.cpu["locust"] / r.requests
                per_req["requests_per_login"][i] = r.requests / r.in_window
                per_req["inbox_requests_per_login"][i] = r.inbox_requests / r.in_window
            detail.append({"round": i, **r.detail})
            return r.logins / p.seconds

        def hello_round(i: int) -> float:
            assert hello is not None
            run = run_locust(HELLO_LOCUSTFILE, hello.ready["url"], p.users, p.users, p.seconds, work, f"hello-{i}",
                             series={"locust": procs.cpu_seconds,
                                     "hello": lambda _p: procs.group_cpu_seconds(hello_pid)})
            agg = run.aggregated()
            requests = int(agg.get("Request Count") or 0)
            locust_per_req = steady_cpu_per_request(run, p.users)
            server_per_req = steady_cpu_per_request(run, p.users, "hello")
            if locust_per_req is not None and server_per_req is not None:
                per_req["hello_locust"][i] = locust_per_req
                per_req["hello_server"][i] = server_per_req
            detail.append({"round": i, "side": "hello", "rc": run.returncode, "requests": requests,
                           "failures": agg.get("Failure Count"), "locust_cpu_s": round(run.cpu_s, 2)})
            bare_round(i)
            return requests / p.seconds

        def bare_round(i: int) -> None:
            """The bare client with the stack's request mix, right after each hello round (ABBA kept)."""
            assert stack.portal is not None and stack.inbox is not None
            run = run_locust(BARE_MFA_LOCUSTFILE, stack.portal_url, p.users, p.users, p.seconds, work, f"bare-{i}",
                             extra=["--inbox-url", stack.inbox_url, "--time-scale", str(TIME_SCALE)],
                             series={"locust": procs.cpu_seconds})
            per = steady_cpu_per_request(run, p.users, skip_s=1.0)
            if per is not None:
                per_req["bare_mix_locust"][i] = per
            agg = run.aggregated()
            detail.append({"round": i, "side": "bare same mix", "rc": run.returncode,
                           "requests": agg.get("Request Count"), "failures": agg.get("Failure Count"),
                           "locust_cpu_s": round(run.cpu_s, 2)})

        a, b = alternate(p.rounds, stack_round, hello_round)
    finally:
        if hello is not None:
            procs.stop_child(hello)
        stack.stop()
    figures = [
        ratio_figure("end to end", Side("stack MFA logins", "logins/s", a), Side("hello-world", "req/s", b),
                     E2E_GOAL),
        ratio_figure("load generator cost", Side("Locust CPU per login", "ms", [x * 1e3 for x in cost["locust"]]),
                     Side("portal CPU per login", "ms", [x * 1e3 for x in cost["portal"]]), None),
        ratio_figure("inbox cost", Side("inbox CPU per login", "ms", [x * 1e3 for x in cost["inbox"]]),
                     Side("portal CPU per login", "ms", [x * 1e3 for x in cost["portal"]]), None),
    ]
    figures += context_figures(per_req)
    return result(NAME, TITLE, size, figures, started,
                  params={"users": p.users, "seconds": p.seconds, "rounds": p.rounds, "partners": p.partners,
                          "personas": PERSONAS, "time_scale": TIME_SCALE, "password_profile": "cheap"},
                  extra={"inbox_cpu_ms_per_login": [round(x * 1e3, 2) for x in cost["inbox"]],
                         "per_request": {k: [round(x * (1 if "per_login" in k else 1e3), 4) for x in v.values()]
                                         for k, v in per_req.items()},
                         "runs": detail})


def paired(x: dict[int, float], y: dict[int, float], scale: float = 1.0) -> tuple[list[float], list[float]]:
    """The values of the rounds both sides measured, in round order (a ratio compares like with like)."""
    both = sorted(x.keys() & y.keys())
    return [x[i] * scale for i in both], [y[i] * scale for i in both]


def context_figures(per_req: dict[str, dict[int, float]]) -> list[dict[str, Any]]:
    """The generator against its floor, and how far the goals are from this machine's floor and
    ceiling (see the module docstring)."""
    stack, rpl = per_req["stack_locust"], per_req["requests_per_login"]
    if not stack or not per_req["hello_locust"]:
        return []
    out = []
    ms, mix = paired(stack, per_req["bare_mix_locust"], 1e3)
    if mix:
        mix_bare = statistics.median(mix)
        login_ms = {i: rpl[i] * stack[i] * 1e3 for i in stack}
        floor_mix = {i: r * mix_bare for i, r in rpl.items()}
        out += [
            ratio_figure("harness client vs bare FastHttpUser, same request mix",
                         Side("Locust CPU per request, harness", "ms", ms),
                         Side("Locust CPU per request, bare client", "ms", mix), CLIENT_GOAL),
            ratio_figure("Locust CPU per login vs its floor",
                         Side("harness Locust CPU per login", "ms", paired(login_ms, floor_mix)[0]),
                         Side("requests per login x bare client CPU per request", "ms", paired(login_ms, floor_mix)[1]),
                         None),
        ]
    hello_bare = statistics.median(per_req["hello_locust"].values()) * 1e3
    floor = {i: r * hello_bare for i, r in rpl.items()}       # ms of Locust per login at bare request cost
    portal_ms = {i: v * 1e3 for i, v in per_req["portal_per_login"].items()}
    hs, hb = paired(stack, per_req["hello_locust"], 1e3)
    fl, po = paired(floor, portal_ms)
    return out + [
        ratio_figure("harness client vs bare FastHttpUser (hello-world)", Side("Locust CPU per request, stack", "ms", hs),
                     Side("Locust CPU per request, hello-world", "ms", hb), None),
        ratio_figure("cost floor (bare client)", Side("requests per login x bare Locust CPU per request", "ms", fl),
                     Side("portal CPU per login", "ms", po), None),
        ratio_figure("end to end ceiling (hello-world-cheap portal)", Side("1 login", "login", [1.0] * len(rpl)),
                     Side("HTTP requests per login", "requests", list(rpl.values())), None),
    ]
