"""Builders of hand-written merged histories (docs/interfaces.md "History lines") for checker tests.

Time scale 1 so `st == wall` unless a test shifts the portal clock; portal ids increase in the
order events are added, as the audit table's rowids would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Line = dict[str, Any]


def account(pid: int, program: str = "agency", address: str | None = None) -> Line:
    return {"partner_id": pid, "program": program, "username": f"user{pid}@example.com",
            "password": "pw", "notification_email": address or f"team{pid}@example.com", "team": None}


@dataclass
class History:
    """Appends lines with consistent common fields; `lines()` returns them merged by wall."""

    rows: list[Line] = field(default_factory=list)
    portal_offset: float = 0.0           # portal clock jump (scenario seconds)
    _id: int = 0
    _seq: int = 0
    _expiry: dict[int, float] = field(default_factory=dict)

    def lines(self) -> list[Line]:
        return sorted(self.rows, key=lambda r: r["wall"])

    def portal(self, t: float, event: str, **kw: Any) -> Line:
        self._id += 1
        line = {"src": "portal", "wall": t, "st": t + self.portal_offset, "id": self._id, "event": event, **kw}
        self.rows.append(line)
        return line

    def inbox(self, t: float, event: str, message_id: str, recipients: list[str], code: str | None = None,
              **kw: Any) -> Line:
        self._seq += 1
        line = {"src": "inbox", "wall": t, "st": t, "seq_event": self._seq, "event": event,
                "message_id": message_id, "recipients": recipients, "code": code, "rule": None, **kw}
        self.rows.append(line)
        return line

    def op(self, t: float, op: str, typ: str, *, proc: str = "w-1", flow: str = "f1", persona: str = "careful",
           user: str = "user1@example.com", args: dict[str, Any] | None = None,
           result: dict[str, Any] | None = None, took: float = 0.05) -> tuple[Line, Line]:
        """An invoke at t and its completion (`ok`/`fail`/`info`) at t + took."""
        common = {"src": "client", "proc": proc, "flow": flow, "persona": persona, "user": user, "op": op}
        inv = {**common, "wall": t, "st": t, "type": "invoke", "value": args or {}}
        done = {**common, "wall": t + took, "st": t + took, "type": typ, "value": result or {}}
        self.rows += [inv, done]
        return inv, done

    def flow(self, t: float, outcome: str, *, flow: str = "f1", proc: str = "w-1", typ: str | None = None,
             duration: float = 5.0, resends: int = 0, delay: float = 0.5, persona: str = "careful") -> Line:
        line = {"src": "client", "wall": t, "st": t, "type": typ or ("ok" if outcome == "ok" else "fail"),
                "proc": proc, "flow": flow, "persona": persona, "user": "user1@example.com", "op": "flow",
                "value": {"outcome": outcome, "duration_s": duration, "duration_st": duration,
                          "resends": resends, "code_wait_s": delay, "delivery_delay_s": delay}}
        self.rows.append(line)
        return line

    def loop(self, t: float, ended: str, *, flow: str = "f1", proc: str = "w-1") -> Line:
        line = {"src": "client", "wall": t, "st": t, "type": "info", "proc": proc, "flow": flow,
                "persona": "careful", "user": "user1@example.com", "op": "loop",
                "value": {"chain": ["/partner/verify", "/partner/login", "/partner/verify"], "ended": ended}}
        self.rows.append(line)
        return line

    def nemesis(self, t: float, op: str, kind: str, **fault: Any) -> Line:
        line = {"src": "nemesis", "wall": t, "st": t, "type": "info", "op": op, "fault": {"kind": kind, **fault}}
        self.rows.append(line)
        return line

    # --- higher-level pieces -------------------------------------------------------------

    def challenge(self, t: float, cid: int, *, pid: int = 1, program: str = "agency", ttl: float = 600.0) -> Line:
        return self.portal(t, "challenge_created", challenge_id=cid, ref=ref_of(cid), partner_id=pid,
                           username=f"user{pid}@example.com", program=program, expires_at=t + self.portal_offset + ttl)

    def code(self, t: float, cid: int, code_id: int, *, pid: int = 1, reason: str = "login",
             recipient: str | None = None, ttl: float = 300.0, send: bool = True, deliver: bool = True,
             code: str | None = None) -> Line:
        """code_issued, then (optionally) the outbox sending it and the inbox delivering it."""
        mid = msg_of(code_id)
        rcpt = recipient or f"team{pid}@example.com"
        issued = self.portal(t, "code_issued", challenge_id=cid, code_id=code_id, partner_id=pid, recipient=rcpt,
                             message_id=mid, expires_at=t + self.portal_offset + ttl, reason=reason)
        self._expiry[code_id] = issued["expires_at"]
        self.portal(t + 0.01, "email_queued", outbox_id=code_id, message_id=mid, recipient=rcpt, kind="code",
                    code_id=code_id)
        if send:
            self.portal(t + 0.1, "email_attempt", outbox_id=code_id, message_id=mid, attempt=1, result="sent",
                        smtp_code=250, detail="")
            self.portal(t + 0.11, "email_sent", outbox_id=code_id, message_id=mid, recipient=rcpt, code_id=code_id)
            if deliver:
                self.inbox(t + 0.1, "received", mid, [rcpt], code or code_of(code_id), size=900)
                self.inbox(t + 0.3, "delivered", mid, [rcpt], code or code_of(code_id), seq=code_id,
                           id=f"api-{code_id}", folder="inbox")
        return issued

    def verify_ok(self, t: float, cid: int, code_id: int, *, pid: int = 1, expires_at: float | None = None) -> Line:
        exp = expires_at if expires_at is not None else self._code_expiry(code_id)
        return self.portal(t, "verify_ok", challenge_id=cid, code_id=code_id, partner_id=pid, code_expires_at=exp)

    def verify_fail(self, t: float, cid: int | None, reason: str, code_id: int | None = None,
                    attempts: int = 0) -> Line:
        return self.portal(t, "verify_fail", challenge_id=cid, reason=reason, code_id=code_id, attempts=attempts)

    def session(self, t: float, pid: int = 1, *, cid: int | None = 1, mfa: bool = True, program: str = "agency",
                session: str | None = None) -> Line:
        return self.portal(t, "session_created", session=session or f"s{pid}{cid}", partner_id=pid,
                           program=program, mfa=mfa, challenge_id=cid)

    def _code_expiry(self, code_id: int) -> float | None:
        return self._expiry.get(code_id)

    def login(self, t: float, cid: int, code_id: int, *, pid: int = 1, flow: str | None = None,
              proc: str | None = None, verify_after: float = 5.0, portal: bool = True) -> dict[str, Line]:
        """A complete, correct partner login: portal, inbox and client lines. Returns key lines."""
        flow = flow or f"f{cid}"
        proc = proc or f"w-{cid}"
        user = f"user{pid}@example.com"
        kw = {"flow": flow, "proc": proc, "user": user}
        out: dict[str, Line] = {}
        self.op(t, "login", "ok", args={"username": user}, took=0.2,
                result={"ref": ref_of(cid), "landed": "/partner/verify", "chain": []}, **kw)
        if portal:
            out["challenge"] = self.challenge(t + 0.05, cid, pid=pid)
            out["code"] = self.code(t + 0.1, cid, code_id, pid=pid)
        else:
            mid, rcpt = msg_of(code_id), f"team{pid}@example.com"
            self.inbox(t + 0.2, "received", mid, [rcpt], code_of(code_id), size=900)
            self.inbox(t + 0.4, "delivered", mid, [rcpt], code_of(code_id), seq=code_id, id="x", folder="inbox")
        out["read"] = self.op(t + 0.5, "read_code", "ok", args={"query": f"to:team{pid}@example.com"}, took=0.5,
                              result={"code": code_of(code_id), "seq": code_id, "message_id": msg_of(code_id),
                                      "folder": "inbox", "ref": ref_of(cid), "delay_s": 0.2}, **kw)[1]
        tv = t + verify_after
        out["verify_invoke"], out["verify_done"] = self.op(
            tv, "verify", "ok", args={"code": code_of(code_id), "ref": ref_of(cid)}, took=0.2,
            result={"landed": "/partner/account", "chain": []}, **kw)
        if portal:
            out["verify_ok"] = self.verify_ok(tv + 0.1, cid, code_id, pid=pid)
            out["session"] = self.session(tv + 0.11, pid, cid=cid)
            self.portal(tv + 0.5, "account_served", session=out["session"]["session"], partner_id=pid, mfa=True,
                        path="/partner/account")
        self.op(tv + 0.45, "access_account", "ok", result={"status": 200, "mfa": True}, **kw)
        out["flow"] = self.flow(tv + 0.6, "ok", flow=flow, proc=proc, duration=tv + 0.6 - t)
        return out


def ref_of(cid: int) -> str:
    return f"REF{cid:05d}"


def msg_of(code_id: int) -> str:
    return f"<m{code_id}@portal>"


def code_of(code_id: int) -> str:
    return f"{(code_id * 7919) % 1_000_000:06d}"
