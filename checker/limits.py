"""Rate invariants: resend cooldown and caps, wrong-code attempt limits, guessers held to chance."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from .codes import white_box
from .context import CheckContext
from .index import ClientOp, Index, Line, event_id, verifies_with_source
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
    """Per login in a flow, the client ops that may have made the portal issue a code."""
    groups: list[list[ClientOp]] = []
    for op in ops:
        if op.op == "login":
            landed = op.res("page") == "verify" or "verify" in str(op.res("landed") or "")
            groups.append([op] if op.type == "ok" and landed else [])
        elif op.op == "resend" and op.type == "ok" and groups:
            groups[-1].append(op)
    return groups


def _address_of(ctx: CheckContext) -> dict[str, str]:
    return {str(a.get("username")): str(a.get("notification_email", "")).strip().lower() for a in ctx.accounts or []}


def _mails_by_address(ix: Index) -> dict[str, list[Line]]:
    """First delivery of every code mail, per recipient address, in delivery order."""
    out: dict[str, list[Line]] = defaultdict(list)
    for msg in ix.messages.values():
        first = next((line for line in msg.inbox.get("delivered", []) if line.get("code")), None)
        if first is not None:
            for addr in first.get("recipients") or []:
                out[str(addr).strip().lower()].append(first)
    for lines in out.values():
        lines.sort(key=lambda line: line.get("wall", 0.0))
    return out


def _attribute_mails(ix: Index, ctx: CheckContext) -> dict[int, Line]:
    """Which delivered code mail each code request (login to the code page, resend ok) produced.

    Requests in time order each take the earliest unclaimed mail to the account's address that
    arrived between the request and its answer plus the outbox grace. A request left without one
    produced no mail (as far as the inbox shows): it is not counted against the limits.
    """
    address, mails = _address_of(ctx), _mails_by_address(ix)
    grace = ctx.outbox_grace_wall
    requests = sorted((op for ops in ix.flows.values() for group in _client_issuers(ops) for op in group),
                      key=lambda op: op.invoke.get("wall", 0.0))
    taken: set[int] = set()
    out: dict[int, Line] = {}
    for op in requests:
        lo, hi = op.invoke.get("wall", 0.0), (op.done or {}).get("wall", 0.0) + grace
        for mail in mails.get(address.get(str(op.invoke.get("user")), ""), []):
            if id(mail) not in taken and lo <= mail.get("wall", 0.0) <= hi:
                taken.add(id(mail))
                out[id(op)] = mail
                break
    return out


def _codes_beyond_requests(ops: list[ClientOp], r: Result) -> None:
    """More different codes in mails quoting one login's reference than that login asked for
    (the sign-in and its resends that were not refused): a code nobody requested."""
    ref, requests, codes, reads = None, 0, set(), []
    for op in [*ops, None]:
        if op is None or op.op == "login":
            if ref is not None and len(codes) > requests:
                r.violation(*(line for read in reads[:3] for line in (read.invoke, read.done)))
            ref = op.res("ref") if op is not None and op.type == "ok" else None
            requests, codes, reads = (1 if ref else 0), set(), []
        elif op.op == "resend" and op.type != "fail":
            requests += 1
        elif (op.op == "read_code" and op.type == "ok" and ref and op.res("ref") == ref
              and op.res("code") and not op.arg("source")):
            codes.add(str(op.res("code")))
            reads.append(op)


def _black_box_resends(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Limits over the code mails actually delivered; resends that produced no mail are noted."""
    cooldown = float(ctx.policy["resend_cooldown"]) - ctx.margin_st
    per_challenge = int(ctx.policy["max_codes_per_challenge"])
    produced = _attribute_mails(ix, ctx)
    silent: list[ClientOp] = []
    for ops in ix.flows.values():
        for group in _client_issuers(ops):
            mailed = [op for op in group if id(op) in produced]
            silent += [op for op in group[1:] if id(op) not in produced]
            r.case(len(mailed))
            for i, op in enumerate(mailed):
                if i >= per_challenge:
                    r.violation(mailed[0].done, op.invoke, op.done, produced[id(op)])
                elif i and op.done.get("st", 0.0) - mailed[i - 1].invoke.get("st", 0.0) < cooldown:
                    r.violation(mailed[i - 1].invoke, mailed[i - 1].done, op.invoke, op.done, produced[id(op)])
            if ctx.policy["resend"] == "invalidate":
                _check_voided_accepted(ops, [op for op in mailed if op.op == "resend"], r)
        _codes_beyond_requests(ops, r)
    r.note("resends_without_mail", {"count": len(silent),
                                    "examples": [[op.invoke, op.done] for op in silent[:3]]})


def _check_voided_accepted(ops: list[ClientOp], resends: list[ClientOp], r: Result) -> None:
    """Resend voids older codes: a code read before a later resend that mailed a new code, then accepted."""
    if not resends:
        return
    reads = [op for op in ops if op.op == "read_code" and op.type == "ok" and op.res("code") is not None]
    for verify, src in verifies_with_source(ops):
        if verify.type != "ok" or src is None or src.arg("source") or verify.arg("source"):
            continue
        read_at, used_at = src.done.get("wall", 0.0), verify.invoke.get("wall", 0.0)
        later = [op for op in resends if read_at < op.invoke.get("wall", 0.0) and op.done.get("wall", 0.0) < used_at]
        if later and any(read.invoke.get("wall", 0.0) > later[0].invoke.get("wall", 0.0)
                         and str(read.res("code")) == str(verify.arg("code")) for read in reads):
            continue                     # the resent mail carried the same code: it is the newest one
        if later:
            r.violation(src.done, later[0].invoke, later[0].done, verify.invoke, verify.done)


def _white_box_voids(ix: Index, ctx: CheckContext, r: Result) -> None:
    """Resend voids older codes: a code accepted after a newer resend code of its challenge was issued."""
    if ctx.policy["resend"] != "invalidate":
        return
    for code_id, oks in ix.code_oks.items():
        issued = ix.codes.get(code_id)
        ch = ix.challenges.get(issued.get("challenge_id")) if issued else None
        if ch is None:
            continue
        for ok in oks:
            newer = [c for c in ch.codes if c.get("reason") == "resend"
                     and event_id(issued) < event_id(c) < event_id(ok)]
            if newer:
                r.violation(issued, newer[0], ok)


def check_resend_limits(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Cooldown between codes of a challenge, codes per challenge, codes per account per hour;
    under the "invalidate" resend policy no code older than a resent one is accepted."""
    wb = white_box(ix, ctx)
    r = Result(decidable=wb or bool(ctx.accounts))
    cooldown = float(ctx.policy["resend_cooldown"]) - ctx.margin_st
    per_challenge = int(ctx.policy["max_codes_per_challenge"])
    if wb:
        for ch in ix.challenges.values():
            unasked = [c for c in ch.codes[1:] if c.get("reason") != "resend"]
            if unasked:                                  # a second code that no resend asked for
                r.violation(ch.codes[0], unasked[0])
            for i, code in enumerate(ch.codes):
                r.case()
                if i >= per_challenge:
                    r.violation(ch.codes[0], code)
                elif i and code.get("reason") == "resend" and code.get("st", 0.0) - ch.codes[i - 1].get("st", 0.0) < cooldown:
                    r.violation(ch.codes[i - 1], code)
        _check_account_hour(ix, ctx, r)
        _white_box_voids(ix, ctx, r)
        return r.as_dict()
    _black_box_resends(ix, ctx, r)
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
    r.case(tries)
    if len(wins) > bound:
        r.violation(*(line for v in wins[:3] for line in (v.invoke, v.done)))
    r.note("guesses", {"tries": tries, "successes": len(wins), "bound": round(bound, 3)})


def check_attempt_limits(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """At most max_attempts wrong codes per challenge, no success after them; guessers at chance."""
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    limit = int(ctx.policy["max_attempts"])
    if wb:
        for ch in ix.challenges.values():
            if ch.verifies:
                r.case()
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
            unknown: dict[Any, int] = defaultdict(int)     # verifies of unknown outcome, maybe wrong
            flagged: set[Any] = set()
            for op in ops:
                if op.op != "verify":
                    continue
                key = op.arg("ref")
                if op.type not in ("ok", "fail"):
                    unknown[key] += 1
                    continue
                known = len(wrong_ops.get(key, ()))
                if op.type == "ok" and known < limit <= known + unknown[key]:
                    r.undecided_case()                      # past the limit only if the unknowns were wrong
                if key not in wrong_ops:
                    r.case()
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
