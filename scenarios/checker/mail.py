"""Invariants on email: codes go to the right address, nothing is lost, the outbox drains.

Messages are keyed by Message-ID, which the portal logs in `code_issued` and the inbox in
every delivery event, so portal and inbox meet without looking at code values.
"""

from __future__ import annotations

import math
from typing import Any

from .codes import white_box
from .context import OUTAGE_KINDS, CheckContext
from .index import Index, Line, Message
from .result import Result


def _addr(value: Any) -> str | None:
    return str(value).strip().lower() if value else None


def _check_addresses(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Each code_issued.recipient equals the partner's address at that moment (in event order)."""
    initial = {acc.get("partner_id"): _addr(acc.get("notification_email")) for acc in ctx.accounts or []}
    for pid, events in ix.address_events.items():
        current = initial.get(pid)
        waiting: list[Line] = []          # codes issued while the address was not known yet
        for ev in events:
            if ev.get("event") == "notification_changed":
                if current is None:
                    current = _addr(ev.get("old"))
                    for code in waiting:
                        if current is not None and _addr(code.get("recipient")) != current:
                            r.violation(code, ev)
                    waiting = [] if current is not None else waiting
                current = _addr(ev.get("new"))
            elif current is None:
                waiting.append(ev)
            elif _addr(ev.get("recipient")) != current:
                r.violation(ev)
        for _ in waiting:
            r.undecided_case()


def _inbox_end(ix: Index) -> float:
    return max((line.get("wall", 0.0) for msg in ix.messages.values()
                for lines in msg.inbox.values() for line in lines), default=0.0)


def _still_delayed(msg: Message, inbox_end: float) -> bool:
    return any(line.get("until_wall", math.inf) >= inbox_end for line in msg.inbox.get("delayed", []))


def check_recipient(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Right address at issue time; no unexpected code mail; only injected drops lost; duplicates noted."""
    wb = white_box(ix, ctx)
    r = Result(decidable=wb)
    duplicates: list[list[Line]] = []
    inbox_end = _inbox_end(ix)
    grace = ctx.outbox_grace_wall
    if wb:
        _check_addresses(ix, ctx, r)
    for msg in ix.messages.values():
        delivered = msg.inbox.get("delivered", [])
        if len(delivered) > 1 or msg.inbox.get("duplicated") or len(msg.sent) > 1:
            duplicates.append([x for x in (msg.issued, *msg.sent[:2], *delivered[:2]) if x is not None])
        if not wb:
            continue
        issued = msg.issued
        if issued is None:
            coded = [line for line in delivered if line.get("code")]
            if coded and (msg.queued or {}).get("kind") != "reset":
                r.violation(coded[0])             # a code mail the portal never issued
            continue
        want = _addr(issued.get("recipient"))
        for line in delivered:
            if want not in {_addr(a) for a in line.get("recipients") or []}:
                r.violation(issued, line)
                break
        if msg.sent and not delivered and not msg.inbox.get("dropped"):
            if ix.inbox_count == 0:
                r.undecided_case()
            elif not _still_delayed(msg, inbox_end) and msg.sent[0].get("wall", 0.0) + grace < inbox_end:
                r.violation(issued, msg.sent[0], *(line for lines in msg.inbox.values() for line in lines[:1]))
    r.note("duplicates", len(duplicates))
    r.note("duplicate_examples", duplicates[:5])
    return r.as_dict()


def _outage_state(ix: Index) -> tuple[float, bool]:
    """Wall time of the last outage `stop`, and whether an outage is still open at the end."""
    last_stop, open_windows = -math.inf, 0
    for line in sorted(ix.nemesis, key=lambda x: x.get("wall", 0.0)):
        fault = line.get("fault") or {}
        if fault.get("kind") not in OUTAGE_KINDS:
            continue
        if line.get("op") == "start":
            open_windows += 1
        elif line.get("op") == "stop":
            open_windows = max(0, open_windows - 1)
            last_stop = max(last_stop, line.get("wall", -math.inf))
    return last_stop, open_windows > 0


def check_outbox(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Every issued code was sent or failed for good; once outages heal nothing stays queued.

    A permanent failure must come from a permanent SMTP answer (5xx), not from giving up on
    temporary ones. An email still queued is a violation only once a correct outbox had time
    to retry: after the code expired or the last outage ended, plus the backoff grace.
    """
    wb = white_box(ix, ctx)
    r = Result(decidable=wb)
    if not wb:
        return r.as_dict()
    last_stop, still_out = _outage_state(ix)
    end = ix.portal_last.get("wall", 0.0) if ix.portal_last else 0.0
    grace = ctx.outbox_grace_wall
    pending = 0
    for msg in ix.messages.values():
        first = msg.issued or msg.queued
        if first is None:
            continue
        if msg.sent:
            continue
        if msg.failed:
            failed = msg.failed[0]
            if failed.get("reason") == "permanent" and msg.attempts and not any(
                    a.get("result") == "permfail" for a in msg.attempts):
                r.violation(first, *msg.attempts[-2:], failed)
            continue
        start = first.get("wall", 0.0)
        expiry = math.inf
        issued = msg.issued
        if issued is not None and isinstance(issued.get("expires_at"), int | float) and "st" in issued:
            expiry = start + (issued["expires_at"] - issued["st"]) / ctx.time_scale
        retry_from = math.inf if still_out else max(start, last_stop)
        if end > min(expiry, retry_from) + grace:
            r.violation(first, msg.queued, *msg.attempts[-2:])
        else:
            pending += 1
    r.note("pending_at_end", pending)
    return r.as_dict()
