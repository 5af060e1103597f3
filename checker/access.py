"""Invariants on who gets in: partners only through a verify, affiliates never challenged."""

from __future__ import annotations

from typing import Any

from .codes import white_box
from .context import CheckContext
from .index import ClientOp, Index, Line
from .result import Result

AFFILIATE = "affiliate"


def _is_affiliate_persona(persona: Any) -> bool:
    return isinstance(persona, str) and AFFILIATE in persona


def _verified(ix: Index, session: Line) -> bool:
    """The session's challenge has a verify_ok (the contract does not order the two events)."""
    ch = ix.challenges.get(session.get("challenge_id"))
    return ch is not None and any(v.get("event") == "verify_ok" for v in ch.verifies)


SIGNED_IN_PAGES = frozenset({"account", "my_account"})


def _lands_signed_in(op: ClientOp) -> bool:
    """The step ended on a signed-in partner page (the page it reached is in its completion)."""
    if op.type != "ok" and op.type != "fail":
        return False
    if op.op == "access_account" and op.type == "ok":
        return True
    return op.res("page") in SIGNED_IN_PAGES or op.res("signed_in") is True


def _is_affiliate_user(op: ClientOp, ctx: CheckContext) -> bool:
    if _is_affiliate_persona(op.invoke.get("persona")):
        return True
    user = op.invoke.get("user")
    return any(acc.get("username") == user and acc.get("program") == AFFILIATE for acc in ctx.accounts or [])


def _white_box_mfa(ix: Index, r: Result) -> None:
    bad_sessions: set[str] = set()
    for s in ix.session_lines:
        program = s.get("program") or ix.partner_program.get(s.get("partner_id"))
        if program == AFFILIATE:
            continue
        r.case()
        if not s.get("mfa") or not _verified(ix, s):
            ch = ix.challenges.get(s.get("challenge_id"))
            r.violation(ch.created if ch else None, s)
            bad_sessions.add(str(s.get("session")))
    for a in ix.served:
        sess = ix.sessions.get(str(a.get("session")))
        program = (sess or {}).get("program") or ix.partner_program.get(a.get("partner_id"))
        if program == AFFILIATE or str(a.get("path", "")).startswith("/affiliate"):
            continue
        r.case()
        if a.get("mfa") is not True and str(a.get("session")) not in bad_sessions:
            bad_sessions.add(str(a.get("session")))
            r.violation(sess, a)


def check_mfa_required(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Every partner session passed a verify; no session without MFA was served partner data.

    Black box, per login flow (clients start each flow with no cookies): any step (sign-in,
    password reset, a direct visit of a protected path, the account page) that lands on a
    signed-in partner page while no verify of that flow could have passed since its last completed
    logout is a violation (a new sign-in does not end an earlier full session, a logout does).
    """
    r = Result(decidable=True)
    if white_box(ix, ctx):
        _white_box_mfa(ix, r)
        return r.as_dict()
    session: dict[Any, str] = {}           # flow -> "verified" | "maybe" (only an unsettled verify)
    for op in ix.ops:
        key = op.invoke.get("flow") or op.invoke.get("proc")
        if op.op == "verify" and op.type != "fail":        # ok, info or never completed
            if session.get(key) != "verified":
                session[key] = "verified" if op.type == "ok" else "maybe"
            continue
        if op.op == "logout" and op.type == "ok":
            session.pop(key, None)
        if op.op == "logout" or op.type not in ("ok", "fail") or _is_affiliate_user(op, ctx):
            continue
        if op.op in ("access_account", "visit", "login", "reset_password"):
            r.case()
        if _lands_signed_in(op):
            if session.get(key) == "maybe":
                r.undecided_case()                        # an `info` verify proves nothing either way
            elif session.get(key) is None:
                r.violation(op.invoke, op.done)
    return r.as_dict()


def _affiliate_addresses(ctx: CheckContext) -> set[str]:
    """Addresses that belong to affiliates only (a shared partner address proves nothing)."""
    aff, other = set(), set()
    for acc in ctx.accounts or []:
        addr = str(acc.get("notification_email", "")).lower()
        (aff if acc.get("program") == AFFILIATE else other).add(addr)
    return aff - other - {""}


def check_affiliates(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """Affiliates are never challenged and never emailed a code."""
    wb = white_box(ix, ctx)
    r = Result(decidable=True)
    if wb:
        r.case(ix.affiliate_logins + sum(1 for ch in ix.challenges.values() if ch.created
                                         and ch.created.get("program") == AFFILIATE))
        flagged: set[Any] = set()
        for ch in ix.challenges.values():
            created = ch.created
            pid = created.get("partner_id") if created else (ch.codes[0].get("partner_id") if ch.codes else None)
            program = (created or {}).get("program") or ix.partner_program.get(pid)
            if program == AFFILIATE and ch.cid not in flagged:
                flagged.add(ch.cid)
                r.violation(created, *(ch.codes[:1]))
        return r.as_dict()
    for op in ix.ops:
        if op.op not in ("login", "affiliate_login", "read_code") or op.type != "ok":
            continue
        if not (_is_affiliate_persona(op.invoke.get("persona")) or op.op == "affiliate_login"):
            continue
        r.case()
        landed = str(op.res("landed") or "")
        if op.op == "read_code" or "verify" in landed or op.res("ref"):
            r.violation(op.invoke, op.done)
    addresses = _affiliate_addresses(ctx)
    if addresses:
        for msg in ix.messages.values():
            for line in msg.inbox.get("delivered", []):
                rcpts = {str(a).lower() for a in line.get("recipients") or []}
                if line.get("code") and rcpts & addresses:
                    r.violation(line)
                    break
    return r.as_dict()
