"""Black box: a code mail the inbox refused for a while arrives once the refusal ends (`outbox`).

The inbox is the harness's own, so the run knows when it refused mail: the fault plan's `outage`
(connections refused) and `tempfail` (4xx) windows, recorded as nemesis `start`/`stop` lines on the
run's time axis. A portal whose policy says it retries temporary SMTP failures (`mail_retry_within`,
scenario seconds) owes a code mail for every sign-in that reached the code page and every resend it
accepted while the inbox refused (a request overlapping a refusal window), accepted by the inbox by
the window's end + `mail_retry_within` + the outbox grace, unless the code expired first (a correct
outbox may give up then). A mail "came" when the inbox accepted it (`received`): what the inbox then
does with it (delay, drop, spam) is not the portal's doing.

Mails are not tied to requests black box, only to an address (teammates share one), so mails are
matched to requests per address: first the requests made after a window with nothing in their way
("plain": their mail must come within the grace) take their own mails, then the refused requests
take what is left. A refused request left without a mail is a violation once the run went on past
its due time; before that it is undecided, and so is a sign-in whose outcome is unknown (`info`).
A request some other fault could explain (a 5xx refusal, a rate limit, a portal kill, a clock
jump, an address change) is not judged; nor is any without the policy (None: a lost mail is never
blamed, only left undecided), the accounts file or the inbox's history.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .context import CheckContext
from .index import ClientOp, Index, Line
from .result import Result

TEMPORARY = frozenset({"outage", "tempfail"})   # refusals a retrying outbox outlasts
# What the inbox does to a mail after accepting it: the portal's part was done.
AFTER_ACCEPTANCE = frozenset({"delay", "drop", "spam", "duplicate", "reorder"})


@dataclass
class Span:
    """One fault's window in wall seconds (`end` inf while never stopped), with its nemesis lines."""

    start: float
    end: float
    fault: dict[str, Any]
    lines: list[Line] = field(default_factory=list)

    def applies_to(self, address: str) -> bool:
        to = self.fault.get("to")
        return not to or fnmatchcase(address, str(to).lower())

    def overlaps(self, lo: float, hi: float) -> bool:
        return self.start <= hi and self.end >= lo


@dataclass
class Request:
    """A sign-in to the code page or an accepted resend: the mail it asked for, and when it is due."""

    op: ClientOp
    start: float
    due: float
    window: Span | None = None
    mail: float | None = None


def fault_spans(ix: Index) -> list[Span]:
    """Every nemesis fault as a span: a `start` paired with the next `stop` of the same fault."""
    spans: list[Span] = []
    open_spans: dict[tuple[Any, Any], list[Span]] = defaultdict(list)
    for line in sorted(ix.nemesis, key=lambda x: x.get("wall", 0.0)):
        fault = line.get("fault") or {}
        key, wall = (fault.get("kind"), fault.get("rule")), float(line.get("wall", 0.0))
        if line.get("op") == "start":
            span = Span(wall, math.inf, fault, [line])
            spans.append(span)
            open_spans[key].append(span)
        elif line.get("op") == "stop" and open_spans[key]:
            span = open_spans[key].pop(0)
            span.end = wall
            span.lines.append(line)
        else:                                   # a failed action, or a stop never started: a moment
            spans.append(Span(wall, wall, fault, [line]))
    return spans


def _windows(spans: list[Span], address: str, join: float) -> list[Span]:
    """The temporary refusals that apply to `address`, merged when the next starts before a retry
    after the last could have got through (`join` wall seconds)."""
    merged: list[Span] = []
    for span in sorted((s for s in spans if s.fault.get("kind") in TEMPORARY and s.applies_to(address)),
                       key=lambda s: s.start):
        if merged and span.start <= merged[-1].end + join:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end), last.fault, [*last.lines, *span.lines])
        else:
            merged.append(span)
    return merged


def _accepted_mails(ix: Index) -> dict[str, list[float]]:
    """When the inbox accepted each mail (its first `received`, else `delivered`), per recipient."""
    out: dict[str, list[float]] = defaultdict(list)
    for msg in ix.messages.values():
        line = next(iter(msg.inbox.get("received") or msg.inbox.get("delivered") or []), None)
        if line is not None:
            for addr in line.get("recipients") or []:
                out[str(addr).strip().lower()].append(float(line.get("wall", 0.0)))
    for walls in out.values():
        walls.sort()
    return out


def _observed_until(ix: Index) -> float:
    """The last moment the history saw: its latest client or inbox line."""
    walls = [float(line.get("wall", 0.0)) for op in ix.ops for line in (op.invoke, op.done) if line]
    walls += [float(line.get("wall", 0.0)) for msg in ix.messages.values() for lines in msg.inbox.values()
              for line in lines]
    return max(walls, default=0.0)


def _asked_for_mail(op: ClientOp) -> bool:
    """A sign-in that reached (or may have reached) the code page, or a resend (maybe) accepted."""
    if op.op == "login" and op.type == "ok":
        return op.res("page") == "verify" or "verify" in str(op.res("landed") or "")
    return op.op in ("login", "resend") and op.type in ("ok", "info")


def _match(requests: list[Request], mails: list[float], taken: set[int]) -> None:
    """Each mail, in time order, to the waiting request that is due first (a maximum matching)."""
    waiting: list[tuple[float, int, Request]] = []
    pending = sorted(requests, key=lambda q: q.start)
    nxt = 0
    for i, wall in enumerate(mails):
        if i in taken:
            continue
        while nxt < len(pending) and pending[nxt].start <= wall:
            heapq.heappush(waiting, (pending[nxt].due, nxt, pending[nxt]))
            nxt += 1
        while waiting and waiting[0][0] < wall:
            heapq.heappop(waiting)
        if waiting:
            heapq.heappop(waiting)[2].mail = wall
            taken.add(i)


@dataclass
class _Address:
    """The requests of one notification address, sorted by what the policy says about them."""

    windows: list[Span] | None = None          # its refusal windows, merged
    plain: list[Request] = field(default_factory=list)
    refused: list[Request] = field(default_factory=list)
    unsure: list[Request] = field(default_factory=list)


class RetryCheck:
    """The refused requests of a run, judged against `mail_retry_within` (see the module docstring)."""

    def __init__(self, ix: Index, ctx: CheckContext):
        self.ix, self.ctx = ix, ctx
        within = ctx.policy.get("mail_retry_within")
        self.within_wall = math.inf if within is None else float(within) / ctx.time_scale
        self.grace = ctx.outbox_grace_wall
        self.spans = fault_spans(ix)
        self.counts: dict[str, int] = defaultdict(int)

    def _sort(self, op: ClientOp, address: str, into: _Address) -> None:
        """File one request of `address` as plain, refused, unsure, or leave it out (not judged)."""
        start = float(op.invoke.get("wall", 0.0))
        done = float((op.done or op.invoke).get("wall", start))
        if into.windows is None:
            into.windows = _windows(self.spans, address, self.grace + (0.0 if math.isinf(self.within_wall)
                                                                       else self.within_wall))
        windows = into.windows
        window = next((w for w in windows if w.overlaps(start, done)), None)
        due = (window.end + self.within_wall + self.grace if window
               else done + max(float(self.ctx.policy["mail_window"]) / self.ctx.time_scale, self.grace))
        others = any(s.fault.get("kind") not in TEMPORARY | AFTER_ACCEPTANCE and s.applies_to(address)
                     and s.overlaps(start, due) for s in self.spans)
        req = Request(op, start, due, window)
        if window is None:
            if op.type == "ok" and not others and not any(w.overlaps(start, due) for w in windows) \
                    and any(w.end < start for w in windows):
                into.plain.append(req)
            return
        expiry = start + float(self.ctx.policy["code_ttl"]) / self.ctx.time_scale
        if window.end + self.within_wall + self.ctx.margin_st / self.ctx.time_scale > expiry \
                and not math.isinf(self.within_wall):
            self.counts["expired_first"] += 1         # a correct outbox may give up on an expired code
        elif others:
            self.counts["explained_by_other_faults"] += 1
        else:
            (into.refused if op.type == "ok" else into.unsure).append(req)

    def run(self, r: Result) -> None:
        if not any(s.fault.get("kind") in TEMPORARY for s in self.spans):
            return
        address_of = {str(a.get("username")): str(a.get("notification_email") or "").strip().lower()
                      for a in self.ctx.accounts or []}
        by_address: dict[str, _Address] = defaultdict(_Address)
        for op in self.ix.ops:
            if not _asked_for_mail(op):
                continue
            address = address_of.get(str(op.invoke.get("user")))
            if address and self.ix.inbox_count:
                self._sort(op, address, by_address[address])
            elif any(s.fault.get("kind") in TEMPORARY and s.overlaps(float(op.invoke.get("wall", 0.0)),
                                                                   float((op.done or op.invoke).get("wall", 0.0)))
                     for s in self.spans):
                self.counts["no_accounts_or_inbox"] += 1
                r.undecided_case()           # refused, maybe, but whose mail and did it come?
        mails = _accepted_mails(self.ix)
        until = _observed_until(self.ix)
        for address, reqs in by_address.items():
            taken: set[int] = set()
            _match(reqs.plain, mails.get(address, []), taken)
            _match(reqs.refused, mails.get(address, []), taken)
            self._judge(reqs, [m for i, m in enumerate(mails.get(address, [])) if i not in taken], until, r)
        r.note("mail_retry", {"within_st": self.ctx.policy.get("mail_retry_within"), **self.counts})

    def _judge(self, reqs: _Address, free: list[float], until: float, r: Result) -> None:
        for req in reqs.refused:
            if req.mail is not None:
                r.case()
                self.counts["came"] += 1
            elif until >= req.due:
                r.case()
                self.counts["lost"] += 1
                r.violation(req.op.invoke, req.op.done, *(req.window.lines[:1] + req.window.lines[-1:]
                                                           if req.window else []))
            else:
                self.counts["run_ended_first"] += 1
                r.undecided_case()
        for req in reqs.unsure:
            if not any(req.start <= m <= req.due for m in free):
                self.counts["unknown_outcome"] += 1
                r.undecided_case()


def check_retried_mail(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Black box: refused code mails came once the inbox took mail again (module docstring)."""
    RetryCheck(ix, ctx).run(r)
