"""No false rejections: a correct, unexpired, unused code of a live challenge is accepted.

White box, two ways in. When the portal names the code it matched (`verify_fail.code_id`), the
portal's own events settle it. When it does not (a `wrong` with no code id), the client's
verify tells which code was typed (through the email it read) and is paired with the one
portal verify event of that challenge inside the client's invoke..completion window; with no
certain pairing the case is left undecided rather than guessed.
"""

from __future__ import annotations

from typing import Any

from .codes import code_deadline, white_box
from .context import CheckContext
from .index import Challenge, ClientOp, Index, Line, event_id, message_key, verifies_with_source
from .result import Result

FALSE_REASONS = ("expired", "wrong", "used")


def _code_was_live(ix: Index, ctx: CheckContext, ch: Challenge, code: Line, at: Line) -> bool:
    """Was `code` acceptable for challenge `ch` when the portal logged verify event `at`?"""
    if code.get("challenge_id") != ch.cid:
        return False
    at_id, at_st = event_id(at), at.get("st")
    if at_st is None:
        return False
    margin = ctx.margin_st
    if ix.code_oks.get(code.get("code_id")):
        return False                                              # used (possibly concurrently)
    if any(event_id(v) <= at_id for v in ix.code_voids.get(code.get("code_id"), [])):
        return False
    if ctx.policy["resend"] == "invalidate" and any(
            event_id(c) > event_id(code) and event_id(c) < at_id for c in ch.codes):
        return False                                              # voided by a newer code
    wrong = 0
    for v in ch.verifies:
        if event_id(v) >= at_id:
            break
        if v.get("event") == "verify_ok" or v.get("reason") in ("too_many", "challenge_dead"):
            return False                                          # challenge already used or dead
        if v.get("reason") == "wrong":
            wrong += 1
    if wrong >= int(ctx.policy["max_attempts"]):
        return False
    created = ch.created or {}
    ch_deadline = created.get("expires_at")
    if ch_deadline is None and "st" in created:
        ch_deadline = created["st"] + float(ctx.policy["challenge_ttl"])
    if ch_deadline is not None and at_st + margin >= ch_deadline:
        return False
    deadline = code_deadline(code, None, ctx)
    return deadline is not None and at_st + margin < deadline


def _pair(ix: Index, cids: set[Any], verify: ClientOp) -> list[Line]:
    """Portal verify events of the flow's challenges logged within the client's invoke..completion."""
    lo, hi = verify.invoke.get("wall"), (verify.done or {}).get("wall")
    if lo is None or hi is None:
        return []
    out = []
    for cid in cids:
        ch = ix.challenges.get(cid)
        if ch is not None:
            out.extend(v for v in ch.verifies if lo <= v.get("wall", -1.0) <= hi)
    return out


def _flow_challenges(ix: Index, ops: list[ClientOp]) -> set[Any]:
    """Every challenge the flow's client saw (login refs, verify refs): the cookie may hold any."""
    refs = {op.res("ref") for op in ops if op.op == "login" and op.type == "ok"}
    refs |= {op.arg("ref") for op in ops if op.op == "verify"}
    return {ix.ref_to_challenge[str(r)] for r in refs if r and str(r) in ix.ref_to_challenge}


def _white_box(ix: Index, ctx: CheckContext, r: Result) -> None:
    for ch in ix.challenges.values():
        r.case(len(ch.verifies))
        for v in ch.verifies:
            if v.get("event") != "verify_fail" or v.get("reason") not in FALSE_REASONS:
                continue
            code = ix.codes.get(v.get("code_id")) if v.get("code_id") is not None else None
            if code is not None and _code_was_live(ix, ctx, ch, code, v):
                r.violation(code, v)
    for ops in ix.flows.values():
        cids: set[Any] | None = None
        for verify, src in verifies_with_source(ops):
            if verify.type != "fail" or verify.res("reason") not in ("wrong", "expired") or src is None:
                continue
            msg = ix.messages.get(message_key(src.res("message_id")))
            code = msg.issued if msg is not None else None
            if code is None:
                r.undecided_case()                                # an email the portal never logged
                continue
            if ix.code_oks.get(code.get("code_id")):
                continue                                          # used: any rejection is right
            if cids is None:
                cids = _flow_challenges(ix, ops)
            candidates = _pair(ix, cids | {code.get("challenge_id")}, verify)
            mine = [v for v in candidates if v.get("challenge_id") == code.get("challenge_id")]
            if candidates and not mine:
                continue                                          # submitted to another attempt
            if len(candidates) != 1:
                r.undecided_case()                                # cannot tell which event was ours
                continue
            portal = candidates[0]
            ch = ix.challenges[portal["challenge_id"]]
            if (portal.get("event") == "verify_fail" and portal.get("code_id") is None
                    and portal.get("reason") in FALSE_REASONS and _code_was_live(ix, ctx, ch, code, portal)):
                r.violation(src.done, verify.invoke, code, portal, verify.done)


def _black_box(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Only what the client alone proves: an own, fresh, first code rejected as wrong or expired."""
    if any((line.get("fault") or {}).get("kind") == "clock-jump" for line in ix.nemesis):
        return
    ttl = min(float(ctx.policy["code_ttl"]), float(ctx.policy["challenge_ttl"])) - ctx.margin_st
    moved = [float(line.get("st", 0.0)) for line in ix.nemesis
             if (line.get("fault") or {}).get("kind") == "change-notification"]
    for ops in ix.flows.values():
        if ctx.policy["resend"] == "invalidate" and any(
                op.op == "resend" and op.type != "fail" for op in ops):
            continue                                              # an older code may be void
        login = next((op for op in ops if op.op == "login"), None)
        if login is None or sum(1 for op in ops if op.op == "login") != 1:
            continue
        end = max(float((op.done or op.invoke).get("st", 0.0)) for op in ops)
        if any(float(login.invoke.get("st", 0.0)) <= t <= end for t in moved):
            continue                      # support moved an address meanwhile: a portal may void pending codes
        pairs = verifies_with_source(ops)
        if any(src is not None and v.type in ("ok", "fail") for v, src in pairs):
            r.case()
        before = 0
        for verify, src in pairs:
            if verify.type in ("ok", "info", None):
                break                                             # the challenge may be used
            if (src is not None and verify.res("reason") in ("wrong", "expired")
                    and before < int(ctx.policy["max_attempts"])
                    and src.res("ref") and str(src.res("ref")) == str(verify.arg("ref"))
                    and verify.done.get("st", ttl) - login.invoke.get("st", 0.0) < ttl):
                r.violation(login.invoke, src.done, verify.invoke, verify.done)
                break
            before += 1


def check_no_false_rejections(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """A live, unused, unexpired code of the challenge was never rejected as expired/wrong/used."""
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    (_white_box if wb else _black_box)(ix, ctx, r)
    return r.as_dict()
