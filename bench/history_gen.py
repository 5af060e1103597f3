"""A realistic merged run history of any length, following docs/interfaces.md "History lines".

Login flows start as a Poisson process and overlap; each writes what the real parts would:
client invoke/ok pairs and a `flow` line (loadtests), the portal's audit events with
strictly increasing ids (challenge, code, outbox, verify, session, account pages), and the
inbox's delivery events with increasing `seq_event`. The mix is the default personas' one,
with a share of resends, wrong codes, expired codes, bad passwords and affiliates, so every
invariant has work to do. Lines come out sorted by wall time, as `collect.merge` leaves them;
memory stays bounded because only flows still running are held.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfa_harness.checker.policy import DEFAULT_POLICY

Line = dict[str, Any]
POLICY = dict(DEFAULT_POLICY)
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps(separators=...) builds one a line


@dataclass
class Account:
    partner_id: int
    program: str
    username: str
    notification_email: str


def accounts(n: int, rng: random.Random) -> list[Account]:
    """Partners in teams of up to 4 sharing one notification address; one in five is an affiliate."""
    out = []
    for pid in range(1, n + 1):
        program = "affiliate" if pid % 5 == 0 else ("reseller" if pid % 7 == 0 else "agency")
        team = (pid - 1) // 4
        out.append(Account(pid, program, f"user{pid}@agency{team}.example", f"team{team}@agency{team}.example"))
    rng.shuffle(out)
    return out


@dataclass
class Counters:
    challenge: int = 0
    code: int = 0
    outbox: int = 0
    flow: int = 0
    session: int = 0


class Flow:
    """Lines of one login flow, stamped with their wall time; ids are assigned at output."""

    def __init__(self, gen: HistoryGenerator, t: float, acc: Account, proc: str) -> None:
        self.g, self.t, self.acc, self.proc = gen, t, acc, proc
        gen.counters.flow += 1
        self.flow = f"f{gen.counters.flow}"
        self.persona = "affiliate" if acc.program == "affiliate" else gen.rng.choice(("careful", "careful", "hasty"))
        self.lines: list[Line] = []

    def tick(self, lo: float, hi: float) -> float:
        self.t += self.g.rng.uniform(lo, hi)
        return self.t

    def client(self, op: str, typ: str, value: Line, took: tuple[float, float] = (0.01, 0.08)) -> None:
        base = {"src": "client", "proc": self.proc, "flow": self.flow, "persona": self.persona,
                "user": self.acc.username, "op": op}
        self.lines.append({**base, "wall": self.t, "type": "invoke", "value": value if typ == "invoke" else {}})
        self.tick(*took)

    def done(self, op: str, typ: str, value: Line) -> None:
        self.lines.append({"src": "client", "proc": self.proc, "flow": self.flow, "persona": self.persona,
                           "user": self.acc.username, "op": op, "wall": self.t, "type": typ, "value": value})

    def portal(self, event: str, **kw: Any) -> Line:
        line = {"src": "portal", "wall": self.t, "event": event, **kw}
        self.lines.append(line)
        self.t += 0.0005
        return line

    def inbox(self, event: str, message_id: str, code: str, **kw: Any) -> None:
        self.lines.append({"src": "inbox", "wall": self.t, "event": event, "message_id": message_id,
                           "recipients": [self.acc.notification_email], "code": code, "rule": None, **kw})
        self.t += 0.0003


class HistoryGenerator:
    """Yields `lines` history lines (a few more: the last flows are finished)."""

    def __init__(self, lines: int, seed: int = 6, partners: int = 50_000, rate: float = 40.0) -> None:
        self.target = lines
        self.rng = random.Random(seed)
        self.accounts = accounts(partners, self.rng)
        self.rate = rate
        self.counters = Counters()
        self.epoch = 1_790_000_000.0
        self._ids = 0
        self._seq = 0

    # -- one flow --------------------------------------------------------------------------
    def _issue(self, f: Flow, cid: int, reason: str) -> tuple[int, str, str]:
        c = self.counters
        c.code += 1
        c.outbox += 1
        code = f"{self.rng.randrange(1_000_000):06d}"
        mid = f"<{c.code}.{c.outbox}@portal.example>"
        f.portal("code_issued", challenge_id=cid, code_id=c.code, partner_id=f.acc.partner_id,
                 recipient=f.acc.notification_email, message_id=mid, expires_at=self._st(f.t) + 300.0, reason=reason)
        f.portal("email_queued", outbox_id=c.outbox, message_id=mid, recipient=f.acc.notification_email,
                 kind="code", code_id=c.code)
        f.tick(0.005, 0.05)
        f.portal("email_attempt", outbox_id=c.outbox, message_id=mid, attempt=1, result="sent", smtp_code=250,
                 detail="OK")
        f.inbox("received", mid, code, size=3150)
        f.inbox("delivered", mid, code, seq=c.outbox, id=f"api{c.outbox}", folder="inbox")
        f.portal("email_sent", outbox_id=c.outbox, message_id=mid, recipient=f.acc.notification_email,
                 code_id=c.code)
        return c.code, code, mid

    def _st(self, wall: float) -> float:
        return wall - self.epoch

    def _read(self, f: Flow, code: str, mid: str, ref: str, seq: int) -> None:
        f.client("read_code", "invoke", {"query": f"to:{f.acc.notification_email}", "after_seq": seq - 1,
                                         "folder": "inbox"}, took=(0.05, 1.5))
        f.done("read_code", "ok", {"code": code, "seq": seq, "message_id": mid, "folder": "inbox", "ref": ref,
                                   "delay_s": 0.02})
        f.tick(2.0, 12.0)   # the user types the code

    def partner_flow(self, f: Flow) -> None:
        rng, c, acc = self.rng, self.counters, f.acc
        start = f.t
        f.client("login", "invoke", {})
        if rng.random() < 0.03:
            f.portal("login_failed", username=acc.username, reason="bad_password")
            f.done("login", "fail", {"reason": "generic_error"})
            f.done("flow", "fail", {"outcome": "error", "duration_s": f.t - start, "duration_st": f.t - start,
                                    "resends": 0, "code_wait_s": None, "delivery_delay_s": None})
            return
        c.challenge += 1
        cid = c.challenge
        ref = f"R{cid:07d}"
        f.portal("challenge_created", challenge_id=cid, ref=ref, partner_id=acc.partner_id, username=acc.username,
                 program=acc.program, expires_at=self._st(f.t) + 600.0)
        code_id, code, mid = self._issue(f, cid, "login")
        f.done("login", "ok", {"ref": ref, "landed": "/partner/verify", "chain": ["/partner/login", "/partner/verify"]})
        self._read(f, code, mid, ref, c.outbox)
        resends = 0
        if rng.random() < 0.10:           # "send another code"
            resends = 1
            f.tick(30.0, 40.0)
            f.client("resend", "invoke", {})
            f.portal("code_voided", code_id=code_id, challenge_id=cid, reason="resend_invalidate")
            new_id = c.code + 1
            f.portal("resend_allowed", challenge_id=cid, code_id=new_id, codes_in_challenge=2, codes_in_hour=2)
            code_id, code, mid = self._issue(f, cid, "resend")
            f.done("resend", "ok", {})
            self._read(f, code, mid, ref, c.outbox)
        if rng.random() < 0.05:           # a typo first
            f.client("verify", "invoke", {"code": "000000", "ref": ref})
            f.portal("verify_fail", challenge_id=cid, reason="wrong", code_id=None, attempts=1)
            f.done("verify", "fail", {"reason": "wrong", "chain": ["/partner/verify"]})
            f.tick(1.0, 4.0)
        f.client("verify", "invoke", {"code": code, "ref": ref})
        if rng.random() < 0.02:           # came back after the code expired
            f.tick(310.0, 400.0)
            f.portal("verify_fail", challenge_id=cid, reason="expired", code_id=code_id, attempts=0)
            f.done("verify", "fail", {"reason": "expired", "chain": ["/partner/verify"]})
            f.done("flow", "fail", {"outcome": "expired", "duration_s": f.t - start, "duration_st": f.t - start,
                                    "resends": resends, "code_wait_s": 0.5, "delivery_delay_s": 0.02})
            return
        f.portal("verify_ok", challenge_id=cid, code_id=code_id, partner_id=acc.partner_id,
                 code_expires_at=self._st(f.t) + 200.0)
        c.session += 1
        sess = f"{c.session:012x}"
        f.portal("session_created", session=sess, partner_id=acc.partner_id, program=acc.program, mfa=True,
                 challenge_id=cid)
        f.done("verify", "ok", {"landed": "/partner/account", "chain": ["/partner/verify", "/partner/account"]})
        f.client("access_account", "invoke", {})
        f.portal("account_served", session=sess, partner_id=acc.partner_id, mfa=True, path="/partner/account")
        f.done("access_account", "ok", {"status": 200, "mfa": True})
        f.done("flow", "ok", {"outcome": "ok", "duration_s": f.t - start, "duration_st": f.t - start,
                              "resends": resends, "code_wait_s": 0.5, "delivery_delay_s": 0.02})

    def affiliate_flow(self, f: Flow) -> None:
        acc, c = f.acc, self.counters
        start = f.t
        f.client("affiliate_login", "invoke", {})
        c.session += 1
        sess = f"{c.session:012x}"
        f.portal("affiliate_login", partner_id=acc.partner_id, session=sess)
        f.portal("session_created", session=sess, partner_id=acc.partner_id, program="affiliate", mfa=False,
                 challenge_id=None)
        f.done("affiliate_login", "ok", {"ref": None, "landed": "/affiliate/dashboard",
                                         "chain": ["/affiliate/login", "/affiliate/dashboard"]})
        f.portal("account_served", session=sess, partner_id=acc.partner_id, mfa=False, path="/affiliate/dashboard")
        f.done("flow", "ok", {"outcome": "ok", "duration_s": f.t - start, "duration_st": f.t - start,
                              "resends": 0, "code_wait_s": None, "delivery_delay_s": None})

    # -- the stream ------------------------------------------------------------------------
    def _stamp(self, line: Line) -> Line:
        """Common fields and the per-source counters, in output (wall) order."""
        line["wall"] = round(line["wall"], 6)
        line["st"] = round(self._st(line["wall"]), 6)
        if line["src"] == "portal":
            self._ids += 1
            line["id"] = self._ids
        elif line["src"] == "inbox":
            self._seq += 1
            line["seq_event"] = self._seq
        return line

    def __iter__(self) -> Iterator[Line]:
        rng = self.rng
        heap: list[tuple[float, int, Line]] = []
        n = emitted = 0
        t = self.epoch
        first = {"src": "portal", "wall": t, "event": "portal_started", "pid": 4242, "bugs": [], "policy": POLICY}
        yield self._stamp(first)
        emitted += 1
        for _ in range(self.target):   # bounded: each pass emits at least one flow's worth of lines
            if emitted >= self.target:
                break
            t += rng.expovariate(self.rate)
            while heap and heap[0][0] <= t:
                yield self._stamp(heapq.heappop(heap)[2])
                emitted += 1
            acc = rng.choice(self.accounts)
            f = Flow(self, t, acc, f"w1-{self.counters.flow % 500}")
            (self.affiliate_flow if acc.program == "affiliate" else self.partner_flow)(f)
            for line in f.lines:
                n += 1
                heapq.heappush(heap, (line["wall"], n, line))
        while heap:
            yield self._stamp(heapq.heappop(heap)[2])

    def account_dicts(self) -> list[Line]:
        return [{"partner_id": a.partner_id, "program": a.program, "username": a.username, "password": "pw",
                 "notification_email": a.notification_email, "team": None} for a in self.accounts]


def write_history(path: Path, lines: int, seed: int = 6) -> tuple[int, list[Line]]:
    """Write a history of about `lines` lines to `path`; returns (count, accounts)."""
    gen = HistoryGenerator(lines, seed)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for line in gen:
            fh.write(_ENCODER.encode(line))
            fh.write("\n")
            n += 1
    return n, gen.account_dicts()
