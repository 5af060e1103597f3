"""Inbox wait wake-up: time from the SMTP 250 to the long-poll ``wait`` answering its client,
against a plain HTTP round trip (``GET /livez``) to the same inbox process.

For each sample a client parks ``GET /api/v1/wait?query=to:ADDR`` (we confirm through
``/api/v1/info`` that the waiter is registered), then a message for ADDR is sent on a
persistent SMTP connection; the sample is the gap between reading the 250 and reading the
last byte of the wait's answer, both on one event loop. The figure is p99 against p99.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import emails, procs
from bench.http import KeepAlive
from bench.measure import Goal, Side, alternate, percentile, ratio_figure, result
from bench.smtp_sender import Connection, prepare
from mfa_harness.harness_http import InboxApi

NAME = "inbox_wakeup"
TITLE = "inbox wait wake-up (SMTP 250 -> wait answered) vs plain HTTP round trip, p99"
GOAL = Goal("<=", 3.0, "wake-up p99 <= 3 x round-trip p99")
REGISTER_POLLS = 500  # bound on /api/v1/info polls while a waiter registers


@dataclass(frozen=True)
class Params:
    samples: int
    rounds: int = 5


SIZES = {"tiny": Params(samples=20), "full": Params(samples=300)}


async def _waiters(info: KeepAlive) -> int:
    status, body, _ = await info.get("/api/v1/info")
    return int(json.loads(body)["Waiters"]) if status == 200 else 0


async def wake_round(url: str, smtp_port: int, samples: int, round_no: int) -> tuple[list[float], int]:
    """`samples` wake-up latencies (seconds) and how many waits did not answer 200."""
    rcpts = [f"wake-{round_no}-{i}@bench.example" for i in range(samples)]
    msgs = [prepare(r, raw) for r, raw in emails.pool(samples, rcpts, seed=round_no)]
    waiter, info = await KeepAlive.open(url), await KeepAlive.open(url)
    smtp = await Connection.open("127.0.0.1", smtp_port)
    out: list[float] = []
    bad = 0
    try:
        for rcpt, msg in zip(rcpts, msgs, strict=True):
            waiter.send_get(f"/api/v1/wait?query=to:{rcpt}&timeout=10")
            answer = asyncio.ensure_future(waiter.read_response())
            for _ in range(REGISTER_POLLS):
                if await _waiters(info) >= 1:
                    break
            t_250 = await smtp.send(msg)
            status, _body, t_done = await asyncio.wait_for(answer, 15)
            if status != 200:
                bad += 1
                continue
            out.append(t_done - t_250)
    finally:
        await smtp.close()
        await waiter.close()
        await info.close()
    return out, bad


async def trip_round(url: str, samples: int) -> list[float]:
    conn = await KeepAlive.open(url)
    out = []
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            status, _body, t_done = await conn.get("/livez")
            if status == 200:
                out.append(t_done - t0)
    finally:
        await conn.close()
    return out


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    inbox = procs.inbox_child(work)
    url, port = inbox.ready["url"], int(inbox.ready["smtp_port"])
    raw: dict[str, list[list[float]]] = {"wake": [], "trip": []}
    failures = 0

    def wake(i: int) -> float:
        nonlocal failures
        samples, bad = asyncio.run(wake_round(url, port, p.samples, i))
        failures += bad
        InboxApi(url).delete_messages()
        raw["wake"].append(samples)
        return percentile(samples, 99) * 1e3

    def trip(_i: int) -> float:
        samples = asyncio.run(trip_round(url, p.samples))
        raw["trip"].append(samples)
        return percentile(samples, 99) * 1e3

    with procs.running(inbox):
        a, b = alternate(p.rounds, wake, trip)
    fig = ratio_figure("wake-up p99", Side("wait wake-up p99", "ms", a), Side("HTTP round trip p99", "ms", b), GOAL)
    medians = {k: [round(percentile(s, 50) * 1e3, 3) for s in v] for k, v in raw.items()}
    return result(NAME, TITLE, size, [fig], started, params={"samples_per_round": p.samples, "rounds": p.rounds},
                  extra={"p50_ms_per_round": medians, "wait_failures": failures})
