"""Inbox ingest: messages/s the inbox accepts, stores, indexes and extracts codes from,
against a bare aiosmtpd handler that only counts, both driven by the same sender.

~3 KB verification emails (the portal's template, see ``emails.py``) over 20 concurrent SMTP
connections. The inbox is emptied between rounds (untimed), so every round starts alike.
CPU seconds per message of each server process are recorded too: on a shared machine they
show where the time goes even when the wall-clock rates are noisy.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import emails, procs
from bench.measure import Goal, Side, alternate, ratio_figure, result
from bench.smtp_sender import blast, prepare
from mfa_harness.harness_http import InboxApi

NAME = "inbox_ingest"
TITLE = "inbox ingest vs bare aiosmtpd handler (msg/s, 20 connections)"
GOAL = Goal(">=", 0.8, "inbox msg/s >= 0.8 x bare handler msg/s")


@dataclass(frozen=True)
class Params:
    messages: int
    connections: int = 20
    rounds: int = 5
    recipients: int = 500


SIZES = {"tiny": Params(messages=100, rounds=5), "full": Params(messages=1500, rounds=5)}


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    rcpts = [f"team-{i}@agency.example" for i in range(p.recipients)]
    msgs = [prepare(r, raw) for r, raw in emails.pool(p.messages, rcpts)]
    avg_size = sum(len(m.data) for m in msgs) / len(msgs)
    bare = procs.python_child("bare-smtp", "bench.bare_smtp", [], work)
    try:
        inbox = procs.inbox_child(work)
    except BaseException:
        procs.stop_child(bare)
        raise
    cpu: dict[str, list[float]] = {"inbox": [], "bare": []}
    errors: list[str] = []

    def one(child: Any, key: str) -> float:
        before = procs.group_cpu_seconds(child.proc.pid)
        res = asyncio.run(blast("127.0.0.1", int(child.ready["smtp_port"]), msgs, p.connections))
        cpu[key].append((procs.group_cpu_seconds(child.proc.pid) - before) / max(1, res.sent))
        errors.extend(res.errors)
        if key == "inbox":
            InboxApi(child.ready["url"]).delete_messages()
        return res.rate

    with procs.running(bare, inbox):
        a_rounds, b_rounds = alternate(p.rounds, lambda _i: one(inbox, "inbox"), lambda _i: one(bare, "bare"))
    fig = ratio_figure("ingest rate", Side("inbox", "msg/s", a_rounds), Side("bare aiosmtpd", "msg/s", b_rounds),
                       GOAL)
    cpu_inbox = sorted(cpu["inbox"])[len(cpu["inbox"]) // 2]
    cpu_bare = sorted(cpu["bare"])[len(cpu["bare"]) // 2]
    return result(NAME, TITLE, size, [fig], started,
                  params={"messages_per_round": p.messages, "connections": p.connections, "rounds": p.rounds,
                          "recipients": p.recipients, "avg_message_bytes": round(avg_size)},
                  extra={"cpu_ms_per_message": {"inbox": [round(x * 1e3, 3) for x in cpu["inbox"]],
                                                "bare": [round(x * 1e3, 3) for x in cpu["bare"]],
                                                "median_inbox": round(cpu_inbox * 1e3, 3),
                                                "median_bare": round(cpu_bare * 1e3, 3)},
                         "errors": errors[:10]})
