"""Rate invariants: resend cooldown and caps, wrong-code attempt limits, guessers held to chance."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from .codes import white_box
from .context import CheckContext
from .index import ClientOp, Index, Line, verifies_with_source
from .result import Result

HOUR = 3600.0
GUESSER = "code-guesser"
CODE_SPACE = 1_000_000


def _check_account_hour(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Sliding one-hour window of codes per account; a resend past the cap is a violation."""
    cap = int(ctx.policy["max_codes_per_account_hour"])
    by_partner: dict[Any, list[Line]] = defaultdict(list)
    for ch in ix.challenges.values():
        for code in ch.codes:
            by_partner[code.get("partner_id")].append(code)
    for codes in by_partner.values():
        codes.sort(key=lambda c: c.get("st", 0.0))
        lo = 0
        for hi, code in enumerate(codes):
            while code.get("st", 0.0) - codes[lo].get("st", 0.0) >= HOUR:
                lo += 1
            if hi - lo + 1 > cap and code.get("reason") == "resend":
                r.violation(codes[lo], code)


def _client_issuers(ops: list[ClientOp]) -> list[list[ClientOp]]:
    """Per login in a flow, the client ops that definitely made the portal issue a code."""
    groups: list[list[ClientOp]] = []
    for op in ops:
        if op.op == "login":
            groups.append([op] if op.type == "ok" and "verify" in str(op.res("landed") or "") else [])
        elif op.op == "resend" and op.type == "ok" and groups:
            groups[-1].append(op)
    return groups


def check_resend_limits(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Cooldown between codes of a challenge, codes per challenge, codes per account per hour."""
    wb = white_box(ix, ctx)
    r = Result(decidable=wb)
    cooldown = float(ctx.policy["resend_cooldown"]) - ctx.margin_st
    per_challenge = int(ctx.policy["max_codes_per_challenge"])
    if wb:
        for ch in ix.challenges.values():
            for i, code in enumerate(ch.codes):
                if i >= per_challenge:
                    r.violation(ch.codes[0], code)
                elif i and code.get("reason") == "resend" and code.get("st", 0.0) - ch.codes[i - 1].get("st", 0.0) < cooldown:
                    r.violation(ch.codes[i - 1], code)
        _check_account_hour(ix, ctx, r)
        return r.as_dict()
    for ops in ix.flows.values():
        for group in _client_issuers(ops):
            for i, op in enumerate(group):
                if i >= per_challenge:
                    r.violation(group[0].done, op.invoke, op.done)
                elif i and op.done.get("st", 0.0) - group[i - 1].invoke.get("st", 0.0) < cooldown:
                    r.violation(group[i - 1].invoke, group[i - 1].done, op.invoke, op.done)
    return r.as_dict()


def _check_guessers(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Blind guesses (codes not read from any email) succeed no more often than chance allows."""
    live = int(ctx.policy["max_codes_per_challenge"]) if ctx.policy["resend"] == "keep" else 1
    p = min(1.0, live / CODE_SPACE)
    tries, wins = 0, []
    for ops in ix.flows.values():
        if not ops or ops[0].invoke.get("persona") != GUESSER:
            continue
        for verify, src in verifies_with_source(ops):
            if src is None and verify.type in ("ok", "fail"):
                tries += 1
                if verify.type == "ok":
                    wins.append(verify)
    bound = tries * p + 6.0 * math.sqrt(tries * p * (1.0 - p)) + 1.0
    if len(wins) > bound:
        r.violation(*(line for v in wins[:3] for line in (v.invoke, v.done)))
    r.note("guesses", {"tries": tries, "successes": len(wins), "bound": round(bound, 3)})


def check_attempt_limits(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """At most max_attempts wrong codes per challenge, no success after them; guessers at chance."""
    wb = white_box(ix, ctx)
    r = Result(decidable=wb)
    limit = int(ctx.policy["max_attempts"])
    if wb:
        for ch in ix.challenges.values():
            wrong: list[Line] = []
            for v in ch.verifies:
                if v.get("event") == "verify_fail" and v.get("reason") == "wrong":
                    wrong.append(v)
                    if len(wrong) == limit + 1:
                        r.violation(wrong[0], wrong[limit - 1], v)
                        break
                elif v.get("event") == "verify_ok" and len(wrong) >= limit:
                    r.violation(wrong[0], wrong[-1], v)
                    break
    else:
        for ops in ix.flows.values():
            wrong_ops: dict[Any, list[ClientOp]] = defaultdict(list)
            flagged: set[Any] = set()
            for op in ops:
                if op.op != "verify" or op.type not in ("ok", "fail"):
                    continue
                key = op.arg("ref")
                seen = wrong_ops[key]
                if key in flagged:
                    continue
                if op.type == "fail" and op.res("reason") == "wrong":
                    seen.append(op)
                    if len(seen) == limit + 1:
                        flagged.add(key)
                        r.violation(seen[0].done, op.invoke, op.done)
                elif op.type == "ok" and len(seen) >= limit:
                    flagged.add(key)
                    r.violation(seen[0].done, seen[-1].done, op.invoke, op.done)
    _check_guessers(ix, ctx, r)
    return r.as_dict()
