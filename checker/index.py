"""One pass over the merged history, grouping lines by the keys the invariants split on.

Every invariant then works per challenge, per code, per message or per flow, so checking the
whole history is linear in its size. Nothing here decides validity; it only files lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Line = dict[str, Any]


class HistoryError(ValueError):
    """A history line that breaks the contract in a way the checker cannot work around."""


@dataclass(slots=True)
class ClientOp:
    """A client operation: its `invoke` line and its completion (`ok`/`fail`/`info`), if any."""

    invoke: Line
    done: Line | None = None

    @property
    def type(self) -> str | None:
        return self.done.get("type") if self.done else None

    @property
    def op(self) -> str:
        return str(self.invoke.get("op"))

    def arg(self, key: str) -> Any:
        value = self.invoke.get("value")
        return value.get(key) if isinstance(value, dict) else None

    def res(self, key: str) -> Any:
        value = self.done.get("value") if self.done else None
        return value.get(key) if isinstance(value, dict) else None


@dataclass(slots=True)
class Challenge:
    """Portal events of one login attempt (challenge), in event-id order once finished."""

    cid: Any
    created: Line | None = None
    codes: list[Line] = field(default_factory=list)       # code_issued
    verifies: list[Line] = field(default_factory=list)    # verify_ok / verify_fail
    voids: list[Line] = field(default_factory=list)       # code_voided
    resends: list[Line] = field(default_factory=list)     # resend_allowed / resend_refused


@dataclass(slots=True)
class Message:
    """Everything known about one email by its Message-ID: portal outbox and inbox events."""

    issued: Line | None = None        # portal code_issued
    queued: Line | None = None
    sent: list[Line] = field(default_factory=list)
    failed: list[Line] = field(default_factory=list)
    attempts: list[Line] = field(default_factory=list)
    inbox: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Index:
    """The history filed by key; built by `build_index` in one pass."""

    portal_count: int = 0
    inbox_count: int = 0
    challenges: dict[Any, Challenge] = field(default_factory=dict)
    ref_to_challenge: dict[str, Any] = field(default_factory=dict)
    codes: dict[Any, Line] = field(default_factory=dict)                 # code_id -> code_issued
    code_oks: dict[Any, list[Line]] = field(default_factory=lambda: defaultdict(list))
    code_voids: dict[Any, list[Line]] = field(default_factory=lambda: defaultdict(list))
    messages: dict[str, Message] = field(default_factory=lambda: defaultdict(Message))
    sessions: dict[str, Line] = field(default_factory=dict)              # session -> session_created
    session_lines: list[Line] = field(default_factory=list)
    served: list[Line] = field(default_factory=list)                     # account_served
    partner_program: dict[Any, str] = field(default_factory=dict)
    address_events: dict[Any, list[Line]] = field(default_factory=lambda: defaultdict(list))
    clock_jumps: list[Line] = field(default_factory=list)
    affiliate_logins: int = 0                                            # portal affiliate_login events
    portal_last: Line | None = None
    portal_last_wall: Any = 0                                            # portal_last's wall, not re-read per line
    ops: list[ClientOp] = field(default_factory=list)
    flows: dict[Any, list[ClientOp]] = field(default_factory=lambda: defaultdict(list))
    flow_lines: list[Line] = field(default_factory=list)
    loops: list[Line] = field(default_factory=list)
    nemesis: list[Line] = field(default_factory=list)

    @property
    def has_portal(self) -> bool:
        return self.portal_count > 0


def message_key(message_id: Any) -> str:
    """One spelling per Message-ID: the portal logs the header (`<id@host>`), the inbox the bare id."""
    return str(message_id).strip().strip("<>").strip()


def _challenge(ix: Index, cid: Any) -> Challenge:
    ch = ix.challenges.get(cid)
    if ch is None:
        ch = ix.challenges[cid] = Challenge(cid)
    return ch


def _challenge_created(ix: Index, line: Line) -> None:
    ch = _challenge(ix, line.get("challenge_id"))
    ch.created = line
    if line.get("ref") is not None:
        ix.ref_to_challenge[str(line["ref"])] = ch.cid
    if line.get("program"):
        ix.partner_program[line.get("partner_id")] = line["program"]


def _code_issued(ix: Index, line: Line) -> None:
    _challenge(ix, line.get("challenge_id")).codes.append(line)
    ix.codes[line.get("code_id")] = line
    if line.get("message_id") is not None:
        ix.messages[message_key(line["message_id"])].issued = line
    ix.address_events[line.get("partner_id")].append(line)


def _verify(ix: Index, line: Line) -> None:
    if line.get("challenge_id") is not None:
        _challenge(ix, line["challenge_id"]).verifies.append(line)
    if line["event"] == "verify_ok":
        ix.code_oks[line.get("code_id")].append(line)


def _code_voided(ix: Index, line: Line) -> None:
    _challenge(ix, line.get("challenge_id")).voids.append(line)
    ix.code_voids[line.get("code_id")].append(line)


def _resend(ix: Index, line: Line) -> None:
    _challenge(ix, line.get("challenge_id")).resends.append(line)


def _email(ix: Index, line: Line) -> None:
    msg = ix.messages[message_key(line.get("message_id"))]
    ev = line["event"]
    if ev == "email_queued":
        msg.queued = line
    elif ev == "email_attempt":
        msg.attempts.append(line)
    elif ev == "email_sent":
        msg.sent.append(line)
    else:
        msg.failed.append(line)


def _session_created(ix: Index, line: Line) -> None:
    ix.session_lines.append(line)
    if line.get("session") is not None:
        ix.sessions[str(line["session"])] = line
    if line.get("program"):
        ix.partner_program.setdefault(line.get("partner_id"), line["program"])


def _affiliate_login(ix: Index, line: Line) -> None:
    ix.affiliate_logins += 1


# portal event -> where it is filed (one dict lookup per line instead of a chain of comparisons)
_PORTAL_EVENTS: dict[Any, Callable[[Index, Line], None]] = {
    "challenge_created": _challenge_created,
    "code_issued": _code_issued,
    "verify_ok": _verify,
    "verify_fail": _verify,
    "code_voided": _code_voided,
    "resend_allowed": _resend,
    "resend_refused": _resend,
    "email_queued": _email,
    "email_attempt": _email,
    "email_sent": _email,
    "email_failed": _email,
    "session_created": _session_created,
    "account_served": lambda ix, line: ix.served.append(line),
    "notification_changed": lambda ix, line: ix.address_events[line.get("partner_id")].append(line),
    "clock_advanced": lambda ix, line: ix.clock_jumps.append(line),
    "affiliate_login": _affiliate_login,
}


def _portal(ix: Index, line: Line) -> None:
    ix.portal_count += 1
    wall = line.get("wall", 0)
    if ix.portal_last is None or wall >= ix.portal_last_wall:
        ix.portal_last, ix.portal_last_wall = line, wall
    ev = line.get("event")
    try:
        file_it = _PORTAL_EVENTS.get(ev)
    except TypeError:                   # an unhashable event value: filed nowhere, as before
        return
    if file_it is not None:
        file_it(ix, line)


def _client(ix: Index, line: Line, pending: dict[tuple[Any, Any], list[ClientOp]]) -> None:
    op, typ = line.get("op"), line.get("type")
    if op == "loop":
        ix.loops.append(line)
        return
    if op == "flow":
        if typ in ("ok", "fail", "info"):
            ix.flow_lines.append(line)
        return
    key = (line.get("proc"), op)
    if typ == "invoke":
        rec = ClientOp(line)
        waiting = pending.get(key)
        if waiting is None:
            pending[key] = [rec]
        else:
            waiting.append(rec)                   # a double click has two outstanding at once
        ix.ops.append(rec)
        if line.get("flow") is not None:
            ix.flows[line["flow"]].append(rec)
    elif typ in ("ok", "fail", "info"):
        waiting = pending.get(key)
        if waiting:
            waiting.pop(0).done = line
    else:
        raise HistoryError(f"client line with unknown type {typ!r}: {line}")


def _sort_key(line: Line) -> tuple[Any, ...]:
    ident = line.get("id")
    return (0, ident, 0.0) if isinstance(ident, int) else (1, 0, line.get("wall", 0.0))


def build_index(lines: Iterable[Line], accounts: list[Line] | None = None) -> Index:
    """File every line under its keys; portal lists end up in event-id order."""
    ix = Index()
    pending: dict[tuple[Any, Any], list[ClientOp]] = {}
    for n, line in enumerate(lines):
        if not isinstance(line, dict):
            raise HistoryError(f"history line {n + 1} is not a JSON object: {line!r}")
        src = line.get("src")
        if src == "portal":
            _portal(ix, line)
        elif src == "client":
            _client(ix, line, pending)
        elif src == "inbox":
            ix.inbox_count += 1
            if line.get("message_id") is not None:
                ix.messages[message_key(line["message_id"])].inbox[str(line.get("event"))].append(line)
        elif src == "nemesis":
            ix.nemesis.append(line)
        else:
            raise HistoryError(f"history line {n + 1} has unknown src {src!r}")
    for ch in ix.challenges.values():
        for seq in (ch.codes, ch.verifies, ch.voids, ch.resends):
            seq.sort(key=_sort_key)
    for seq in ix.address_events.values():
        seq.sort(key=_sort_key)
    for acc in accounts or []:
        if acc.get("program"):
            ix.partner_program.setdefault(acc.get("partner_id"), acc["program"])
    return ix


def event_id(line: Line) -> float:
    """Order of portal events (the audit rowid); wall time as a stand-in when absent."""
    ident = line.get("id")
    return float(ident) if isinstance(ident, int | float) else float(line.get("wall", 0.0))


def verifies_with_source(flow_ops: list[ClientOp]) -> list[tuple[ClientOp, ClientOp | None]]:
    """Each `verify` of a flow with the flow's latest earlier `read_code` ok that returned its code.

    The read tells which email (message_id, ref) the submitted code came from; one pass per flow.
    """
    latest: dict[str, ClientOp] = {}
    out: list[tuple[ClientOp, ClientOp | None]] = []
    for rec in flow_ops:
        if rec.op == "read_code" and rec.type == "ok" and rec.res("code") is not None:
            latest[str(rec.res("code"))] = rec
        elif rec.op == "verify":
            code = rec.arg("code")
            out.append((rec, latest.get(str(code)) if code is not None else None))
    return out
