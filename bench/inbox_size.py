"""Inbox at size: ``wait``, ``search to:`` and the message list with 100,000 retained messages
against the same with 1,000, and memory per retained message.

Both inboxes are ``inbox_preloaded`` processes (the real inbox with its store filled through
its own delivery path; see that module for why). Every recipient holds the same number of
messages in both (50: 2,000 team addresses in the big one, 20 in the small one), so each
request gets the same answer (a page of 50, or the newest match) and only the size of the
store differs: that is what the ratio is about. (With the same addresses in both, a
``search to:`` returns 50 summaries against 1 and the ratio measures JSON size instead.)
Each request kind is timed on a keep-alive connection; a round's value is its median
latency, rounds alternate between the two processes.

Memory is reported two ways: RSS difference of the two processes per extra message (what
the operating system sees), and tracemalloc of the real pipeline (MIME parsing included)
in this process, per message (what Python keeps for one message).
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import emails, procs
from bench.http import KeepAlive
from bench.measure import Goal, Side, absolute_figure, alternate, percentile, ratio_figure, result

NAME = "inbox_size"
TITLE = "inbox at 100,000 retained messages vs at 1,000 (latency), and memory per message"
LATENCY_GOAL = Goal("<=", 1.5, "latency at 100k <= 1.5 x latency at 1k")
MEMORY_GOAL = Goal("<=", 8.0, "<= 8 KB per retained message")
PER_RECIPIENT = 50


@dataclass(frozen=True)
class Params:
    large: int
    small: int
    requests: int
    traced: int
    rounds: int = 5


SIZES = {"tiny": Params(large=3000, small=300, requests=20, traced=60),
         "full": Params(large=100_000, small=1000, requests=200, traced=1000)}

KINDS = {
    "wait": "wait (match in store)",
    "search": "search to:ADDR",
    "list": "message list (limit 50)",
}


def recipients_for(messages: int) -> int:
    return max(1, messages // PER_RECIPIENT)


def latest_seq(recipient: int, messages: int) -> int:
    """Seq of the newest message of team-`recipient` (message i goes to team-(i % R), Seq i+1)."""
    n = recipients_for(messages)
    return recipient + 1 + n * ((messages - 1 - recipient) // n)


def path_for(kind: str, i: int, messages: int) -> str:
    r = (i * 37) % recipients_for(messages)
    addr = f"team-{r}@agency.example"
    if kind == "wait":
        return f"/api/v1/wait?query=to:{addr}&after={latest_seq(r, messages) - 1}&timeout=5"
    if kind == "search":
        return f"/api/v1/search?query=to:{addr}&limit=50"
    return "/api/v1/messages?limit=50"


async def timed(url: str, kind: str, requests: int, messages: int) -> list[float]:
    conn = await KeepAlive.open(url)
    out = []
    try:
        for i in range(requests):
            t0 = time.perf_counter()
            status, _body, t1 = await conn.get(path_for(kind, i, messages))
            if status != 200:
                raise RuntimeError(f"{kind}: HTTP {status} from {url}")
            out.append(t1 - t0)
    finally:
        await conn.close()
    return out


def traced_bytes_per_message(count: int) -> float:
    """Python allocations kept per message delivered through the real pipeline (parse included)."""
    from mfa_harness.fake_smtp.app import Config, build_inbox

    msgs = emails.pool(count, [f"team-{i}@agency.example" for i in range(recipients_for(count))], seed=9)
    inbox = build_inbox(Config(epoch=time.time()))

    async def deliver(batch: list[tuple[str, bytes]]) -> None:
        for rcpt, raw in batch:
            await inbox.on_data(emails.SENDER, (rcpt,), raw)

    warm, rest = msgs[:50], msgs[50:]
    asyncio.run(deliver(warm))  # caches, interned names and first-use allocations out of the figure
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(deliver(rest))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the pool's raw bytes are held by the store now, so they count, as they should
    return (after - before) / len(rest)


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    large = procs.python_child("inbox-large", "bench.inbox_preloaded",
                               ["--messages", str(p.large), "--recipients", str(recipients_for(p.large))], work,
                               timeout=300)
    try:
        small = procs.python_child("inbox-small", "bench.inbox_preloaded",
                                   ["--messages", str(p.small), "--recipients", str(recipients_for(p.small))],
                                   work, timeout=300)
    except BaseException:
        procs.stop_child(large)
        raise
    figures = []
    p99: dict[str, dict[str, list[float]]] = {}
    with procs.running(large, small):
        rss_large = procs.group_rss_bytes(large.proc.pid)
        rss_small = procs.group_rss_bytes(small.proc.pid)
        for kind, label in KINDS.items():
            p99[kind] = {"large": [], "small": []}

            def side(child: Any, n: int, key: str, kind: str = kind) -> float:
                samples = asyncio.run(timed(child.ready["url"], kind, p.requests, n))
                p99[kind][key].append(round(percentile(samples, 99) * 1e3, 3))
                return percentile(samples, 50) * 1e3

            a, b = alternate(p.rounds, lambda _i, s=side: s(large, p.large, "large"),
                             lambda _i, s=side: s(small, p.small, "small"))
            figures.append(ratio_figure(label, Side(f"{p.large:,} msgs p50", "ms", a),
                                        Side(f"{p.small:,} msgs p50", "ms", b), LATENCY_GOAL))
        rss_large_end = procs.group_rss_bytes(large.proc.pid)
    per_msg_rss = (rss_large - rss_small) / (p.large - p.small)
    figures.append(absolute_figure("memory per message (RSS)", per_msg_rss / 1024, "KB", MEMORY_GOAL,
                                   note=f"(RSS {rss_large / 2**20:.0f} MB - {rss_small / 2**20:.0f} MB) / "
                                        f"{p.large - p.small:,} messages"))
    traced = traced_bytes_per_message(p.traced)
    figures.append(absolute_figure("memory per message (tracemalloc)", traced / 1024, "KB", MEMORY_GOAL,
                                   note=f"real pipeline incl. MIME parsing, {p.traced - 50} messages"))
    return result(NAME, TITLE, size, figures, started,
                  params={"large": p.large, "small": p.small, "messages_per_recipient": PER_RECIPIENT,
                          "requests_per_round": p.requests, "rounds": p.rounds, "traced_messages": p.traced},
                  extra={"rss_mb": {"large": round(rss_large / 2**20, 1), "small": round(rss_small / 2**20, 1),
                                    "large_after_requests": round(rss_large_end / 2**20, 1)},
                         "p99_ms_per_round": p99})
