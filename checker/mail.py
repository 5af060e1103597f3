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
from .retry import check_retried_mail


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


def _askers(ix: Index) -> set[str]:
    """Usernames that may have asked for a code in this run: a sign-in that reached the code page, a
    resend, or either with an unknown outcome (`info`, or cut short: never proof of a violation)."""
    out = set()
    for op in ix.ops:
        if op.op not in ("login", "resend") or op.type == "fail":
            continue
        if op.type != "ok" or op.op == "resend" or op.res("page") == "verify" \
                or "verify" in str(op.res("landed") or ""):
            out.add(str(op.invoke.get("user")))
    return out


def _check_deliveries(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Black box: every delivered code mail went to the notification address of an account that asked.

    The accounts file names each account's notification address; a mail to an account's username
    (not an address) or to an address no account has is a violation. A mail to the address of an
    account that did not ask in this run (mail left over from earlier activity) is only counted.
    """
    accounts = ctx.accounts or []
    askers = _askers(ix)
    notify = {_addr(a.get("notification_email")) for a in accounts if str(a.get("username")) in askers}
    known = {_addr(a.get("notification_email")) for a in accounts}
    usernames = {_addr(a.get("username")): _addr(a.get("notification_email")) for a in accounts}
    unasked = 0
    for msg in ix.messages.values():
        for line in msg.inbox.get("delivered", [])[:1]:
            if not line.get("code"):
                continue
            r.case()
            rcpts = {_addr(a) for a in line.get("recipients") or []}
            misdirected = any(a in usernames and usernames[a] != a and a not in known for a in rcpts)
            if misdirected or not rcpts & known:
                r.violation(line)
            elif not rcpts & notify:
                unasked += 1      # a right address, but its owner did not ask in this run (a straggler?)
    r.note("code_mails_unasked", unasked)


def check_recipient(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Right address at issue time; no unexpected code mail; only injected drops lost; duplicates noted.

    Black box (no portal events) it decides from the inbox's deliveries and the accounts file.
    """
    wb = white_box(ix, ctx)
    r = Result(decidable=wb or bool(ctx.accounts))
    duplicates: list[list[Line]] = []
    inbox_end = _inbox_end(ix)
    grace = ctx.outbox_grace_wall
    if wb:
        _check_addresses(ix, ctx, r)
    elif ctx.accounts:
        _check_deliveries(ix, ctx, r)
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
        r.case()
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


def faults_explain_lost_mail(ix: Index, ctx: CheckContext) -> bool:
    """Any injected mail fault (inbox rules or nemesis) can explain a code that never came."""
    return bool((ctx.fault_plan or {}).get("rules")) or any(
        (line.get("fault") or {}).get("kind") for line in ix.nemesis)


def _codes_never_came(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Black box: a code page was shown, and the login's own read waited the policy's mail window
    (`mail_window`, scenario seconds) without a code. Counted always (`codes_never_came`); a
    violation only when no injected fault explains it. Shorter waits are counted, not judged.
    """
    window = float(ctx.policy["mail_window"])
    explained = faults_explain_lost_mail(ix, ctx)
    never, short = 0, 0
    for ops in ix.flows.values():
        shown = False
        for op in ops:
            if op.op == "login":
                shown = op.type == "ok" and (op.res("page") == "verify" or "verify" in str(op.res("landed") or ""))
                if shown:
                    r.case()
            elif op.op == "read_code" and shown and not (op.arg("source") or op.arg("purpose")) and op.type == "fail" \
                    and op.res("reason") == "timeout":
                waited = float(op.done.get("st", 0.0)) - float(op.invoke.get("st", 0.0))
                if waited + ctx.margin_st < window:
                    short += 1
                    continue
                never += 1
                if not explained:
                    r.violation(op.invoke, op.done)
    r.note("codes_never_came", {"count": never, "shorter_waits": short, "window_st": window,
                                "explained_by_faults": explained})


def check_outbox(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Every issued code was sent or failed for good; once outages heal nothing stays queued.

    A permanent failure must come from a permanent SMTP answer (5xx), not from giving up on
    temporary ones. An email still queued is a violation only once a correct outbox had time
    to retry: after the code expired or the last outage ended, plus the backoff grace.

    Black box: code pages whose mail never came (`_codes_never_came`), and, under the policy's
    `mail_retry_within`, code mails the inbox refused for a while that never came after (`retry.py`).
    """
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    if not wb:
        _codes_never_came(ix, ctx, r)
        check_retried_mail(ix, ctx, r)
        return r.as_dict()
    last_stop, still_out = _outage_state(ix)
    end = ix.portal_last.get("wall", 0.0) if ix.portal_last else 0.0
    grace = ctx.outbox_grace_wall
    pending = 0
    for msg in ix.messages.values():
        first = msg.issued or msg.queued
        if first is None:
            continue
        r.case()
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
