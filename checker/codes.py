"""Invariants on accepted codes: single use, expiry and binding to their login attempt.

White box: the portal's `verify_ok` events, grouped per code. Black box: the client's
successful verifies, tied to the email they came from through the flow's `read_code`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from .context import CheckContext
from .index import ClientOp, Index, Line, message_key, verifies_with_source
from .result import Result

CODE_SPACE = 1_000_000
OTHER_LOGIN = "other_login"      # verify `source`: the live code of the same account's login in another browser


def white_box(ix: Index, ctx: CheckContext) -> bool:
    """Portal events are both promised (reference portal) and present."""
    return ctx.white_box and ix.has_portal


def accepted_verifies(ix: Index) -> list[tuple[ClientOp, ClientOp | None]]:
    """Client verifies that definitely succeeded (`ok`, never `info`), with their source read."""
    out = []
    for ops in ix.flows.values():
        out.extend(pair for pair in verifies_with_source(ops) if pair[0].type == "ok")
    return out


def _login_own_codes(ops: list[ClientOp]) -> list[tuple[ClientOp, set[str]]]:
    """Each verify of a flow with the codes the flow read for its current login (not foreign ones).

    A login starts at each `login` op; a read marked `source` (replay, teammate) is not the login's own.
    """
    out: list[tuple[ClientOp, set[str]]] = []
    own: set[str] = set()
    for op in ops:
        if op.op == "login":
            own = set()
        elif op.op == "read_code" and op.type == "ok" and op.res("code") is not None and not op.arg("source"):
            own.add(str(op.res("code")))
        elif op.op == "verify":
            out.append((op, set(own)))
    return out


def foreign_code_verifies(ix: Index, source: str) -> tuple[list[ClientOp], list[ClientOp]]:
    """Accepted verifies of a code from another login (`source` replay, teammate or other_login).

    Returns (accepted although the login's own code differs, accepted and equal to the login's own
    code). The second kind is a repetition: a violation only beyond chance, and only when the
    policy says codes are per login.
    """
    wrong, repeats = [], []
    for ops in ix.flows.values():
        for verify, own in _login_own_codes(ops):
            if verify.arg("source") != source or verify.type != "ok":
                continue
            (repeats if str(verify.arg("code")) in own else wrong).append(verify)
    return wrong, repeats


def foreign_code_tries(ix: Index, source: str) -> int:
    """Definite answers (ok or fail) to codes of another login, the cases of the cross-login checks."""
    return sum(1 for op in ix.ops if op.op == "verify" and op.arg("source") == source and op.type in ("ok", "fail"))


def check_repeats(ix: Index, ctx: CheckContext, r: Result, repeats: list[ClientOp], tries: int) -> None:
    """Codes per login (policy `codes_repeat` false): another login's code equal to this one's is chance only."""
    if ctx.policy.get("codes_repeat"):
        r.note("code_repeats", {"tries": tries, "repeats": len(repeats), "allowed_by_policy": True})
        return
    p = 1.0 / CODE_SPACE
    bound = tries * p + 6.0 * math.sqrt(tries * p * (1.0 - p)) + 1.0
    if len(repeats) > bound:
        r.violation(*(line for v in repeats[:3] for line in (v.invoke, v.done)))
    r.note("code_repeats", {"tries": tries, "repeats": len(repeats), "bound": round(bound, 3)})


def unsettled(verify: ClientOp) -> bool:
    """A verify whose outcome is unknown (`info`, or cut short by the end of the run)."""
    return verify.type not in ("ok", "fail")


def undecided(r: Result, verify: ClientOp) -> None:
    """An unsettled verify that could hide a violation. One the client itself abandoned when its run
    stopped (`info`, reason "stopped": the answer was never awaited) is no evidence either way: it is
    left out and counted in the note `cut_by_run_end`, so a clean run is not "unknown" because Locust
    stopped mid-request. A timeout or a connection error is still an undecided case."""
    if verify.type == "info" and verify.res("reason") == "stopped":
        r.note("cut_by_run_end", int(r.notes.get("cut_by_run_end", 0)) + 1)
    else:
        r.undecided_case()


def _key(src: ClientOp, verify: ClientOp) -> Any:
    """The mail a verified code came from: its Message-ID, else (reference, code)."""
    mid = src.res("message_id")
    return message_key(mid) if mid else (src.res("ref"), str(verify.arg("code")))


def check_single_use(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """No code accepted twice: more than one verify_ok per code, or two client oks per email.

    Black box also: a used code replayed in a later login (persona behaviour) must be refused
    unless it is that login's own code too (a repetition, judged against chance and the policy).
    """
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    if wb:
        for code_id, oks in ix.code_oks.items():
            r.case()
            if len(oks) > 1:
                r.violation(ix.codes.get(code_id), *oks[:3])
        return r.as_dict()
    by_message: dict[Any, list[tuple[ClientOp, ClientOp]]] = defaultdict(list)
    for verify, src in accepted_verifies(ix):
        if src is not None and not verify.arg("source"):
            by_message[_key(src, verify)].append((verify, src))
    r.case(len(by_message))
    for ops in ix.flows.values():            # an unknown outcome that may have been a second acceptance
        for verify, src in verifies_with_source(ops):
            if unsettled(verify) and src is not None and (verify.arg("source") or _key(src, verify) in by_message):
                undecided(r, verify)
    for pairs in by_message.values():
        if len(pairs) > 1:
            (v1, s1), (v2, _s2) = pairs[0], pairs[1]
            r.violation(s1.done, v1.invoke, v1.done, v2.invoke, v2.done)
    wrong, repeats = foreign_code_verifies(ix, "replay")
    tries = foreign_code_tries(ix, "replay")
    r.case(tries)
    for v in wrong:
        r.violation(v.invoke, v.done)
    check_repeats(ix, ctx, r, repeats, tries)
    return r.as_dict()


def code_deadline(issued: Line | None, ok: Line | None, ctx: CheckContext) -> float | None:
    """The earliest expiry any source claims: the event's own, the issue's, issue + policy TTL."""
    candidates = []
    if ok is not None and isinstance(ok.get("code_expires_at"), int | float):
        candidates.append(float(ok["code_expires_at"]))
    if issued is not None:
        if isinstance(issued.get("expires_at"), int | float):
            candidates.append(float(issued["expires_at"]))
        if isinstance(issued.get("st"), int | float):
            candidates.append(float(issued["st"]) + float(ctx.policy["code_ttl"]))
    return min(candidates) if candidates else None


def _earliest_seen_st(ix: Index, src: ClientOp) -> float | None:
    """The earliest scenario time the email is known to exist: an upper bound of its issue time."""
    times = []
    msg = ix.messages.get(message_key(src.res("message_id"))) if src.res("message_id") is not None else None
    if msg is not None:
        for event in ("received", "delivered"):
            times.extend(line["st"] for line in msg.inbox.get(event, []) if "st" in line)
    if src.done is not None and "st" in src.done:
        times.append(src.done["st"])
    return min(times) if times else None


def check_expiry(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """No code accepted after its expiry, in the portal's own time (clock jumps included)."""
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    margin = ctx.margin_st
    if wb:
        for code_id, oks in ix.code_oks.items():
            issued = ix.codes.get(code_id)
            for ok in oks:
                r.case()
                deadline = code_deadline(issued, ok, ctx)
                if deadline is None or "st" not in ok:
                    r.undecided_case()
                elif ok["st"] > deadline + margin:
                    r.violation(issued, ok)
        return r.as_dict()
    ttl = float(ctx.policy["code_ttl"])
    for ops in ix.flows.values():            # an unknown outcome of a code typed too late
        for verify, src in verifies_with_source(ops):
            seen = _earliest_seen_st(ix, src) if src is not None and unsettled(verify) else None
            if seen is not None and verify.invoke.get("st", seen) - seen > ttl + margin:
                undecided(r, verify)
    for verify, src in accepted_verifies(ix):
        if src is None:
            continue
        seen = _earliest_seen_st(ix, src)
        if seen is None:
            continue
        r.case()
        # The portal accepted after the invoke; the code existed by `seen`: age >= invoke - seen.
        if verify.invoke.get("st", seen) - seen > ttl + margin:
            r.violation(src.done, verify.invoke, verify.done)
    return r.as_dict()


def _flow_login_refs(ops: list[ClientOp]) -> set[str]:
    return {str(op.res("ref")) for op in ops if op.op == "login" and op.type == "ok" and op.res("ref")}


def check_binding(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """A code opens only the challenge it was issued for.

    Black box: a code whose email names another login's reference, or a teammate's code (read
    from mail that predates this login), or the live code of the same account's login in another
    browser (per-login codes only), accepted when it is not also this login's own code.
    """
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    if wb:
        for code_id, oks in ix.code_oks.items():
            issued = ix.codes.get(code_id)
            for ok in oks:
                r.case()
                if issued is None:
                    r.undecided_case()
                elif ok.get("challenge_id") != issued.get("challenge_id"):
                    r.violation(issued, ok)
        return r.as_dict()
    for ops in ix.flows.values():
        login_refs = None
        for verify, src in verifies_with_source(ops):
            if verify.type == "fail" or src is None or not src.res("ref"):
                continue
            if login_refs is None:
                login_refs = _flow_login_refs(ops)
            mine = login_refs | ({str(verify.arg("ref"))} if verify.arg("ref") else set())
            foreign = bool(mine) and str(src.res("ref")) not in mine
            if unsettled(verify):
                if foreign or verify.arg("source"):
                    undecided(r, verify)     # another login's code, outcome unknown
                continue
            if verify.arg("source"):
                continue
            if mine:
                r.case()
            if foreign:
                r.violation(src.done, verify.invoke, verify.done)
    wrong, repeats = foreign_code_verifies(ix, "teammate")
    tries = foreign_code_tries(ix, "teammate")
    r.case(tries)
    for v in wrong:
        r.violation(v.invoke, v.done)
    other_repeats, other_tries = _check_other_logins(ix, ctx, r)
    check_repeats(ix, ctx, r, repeats + other_repeats, tries + other_tries)
    return r.as_dict()


def _check_other_logins(ix: Index, ctx: CheckContext, r: Result) -> tuple[list[ClientOp], int]:
    """The live code of the same account's login in another browser (`source` other_login, persona
    `two-browsers`), accepted while this login's own code differs: a violation when codes are per
    login; under a `codes_repeat` policy a code may open several logins, so it is only noted.

    Returns (the accepted ones equal to this login's own code, the tries): repetitions, for chance.
    """
    wrong, repeats = foreign_code_verifies(ix, OTHER_LOGIN)
    tries = foreign_code_tries(ix, OTHER_LOGIN)
    if ctx.policy.get("codes_repeat"):
        if tries:
            r.note("other_login_codes", {"tries": tries, "accepted": len(wrong) + len(repeats),
                                         "allowed_by_policy": True})
        return [], 0
    r.case(tries)
    for v in wrong:
        r.violation(v.invoke, v.done)
    if tries:
        r.note("other_login_codes", {"tries": tries, "accepted": len(wrong),
                                     "known_by": sorted({str(v.arg("known_by")) for v in wrong})})
    return repeats, tries
