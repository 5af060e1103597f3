"""The inbox's cost per MFA login, alone and repeatable: CPU time or callgrind instructions.

`end_to_end` reports the inbox's CPU per login, but there the portal and Locust share the two
cores and every figure moves by a third from round to round. This tool drives one inbox
process (this checkout's, and with ``--old-python`` another checkout's, in alternating rounds)
with exactly the inbox traffic of a login of the default personas and nothing else:

- a quarter of the logins (``--probe-share``, the hasty users) first ask for the newest Seq
  (``GET /api/v1/messages?limit=1``);
- the long-poll ``GET /api/v1/wait?query=to:ADDR subject:verification REF&after=SEQ``, on the
  user's own keep-alive connection, parked before the mail is sent;
- the portal's own code email (``mfa_harness.server.mail.code_email``) sent the way the portal's
  outbox sends it, ``aiosmtplib.send`` (one SMTP session per mail), or with ``--reuse-smtp`` over
  one persistent aiosmtplib connection per user (several transactions per session);
- the wait's answer read, and its code checked against the one sent.

Logins are paced (``--rate`` per second, spread over ``--users`` concurrent users), so the
inbox is busy about as in `end_to_end` rather than saturated. CPU is the inbox process's time
on CPU over the measured window (after ``--warmup`` logins), from the scheduler's exact count
(``/proc/PID/schedstat``); user and system time (tick-sampled) are printed beside it.

    python -m bench.inbox_per_login --old-python /tmp/old/.venv/bin/python --rounds 6
    python -m bench.inbox_per_login --callgrind --rate 4 --logins 200   # instructions per login

With ``--callgrind`` the inbox runs under ``valgrind --tool=callgrind``; ``callgrind_control -d``
at the start and end of the window, instructions in the window over the logins in it. A tool,
not a benchmark of the suite (needs valgrind for the instruction counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiosmtplib

from bench import procs
from bench.http import KeepAlive
from mfa_harness.scenarios.stack import Child, start_child
from mfa_harness.server.mail import code_email, new_message_id

SENDER = "no-reply@portal.example"


def start_inbox(python: str, work: Path, tag: str, callgrind: bool) -> tuple[Child, Path | None]:
    """The inbox of interpreter `python` on free ports (under callgrind when asked)."""
    argv = [python, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0", "--time-scale", "100"]
    out = None
    if callgrind:
        out = work / f"callgrind.{tag}"
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", *argv]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return start_child(f"inbox-{tag}", argv, work / f"inbox-{tag}.log", timeout=300.0 if callgrind else 60.0,
                       env=env), out


class User:
    """One simulated partner: its own keep-alive HTTP connection to the inbox (and SMTP session)."""

    def __init__(self, n: int, http: KeepAlive, smtp: aiosmtplib.SMTP | None, smtp_port: int) -> None:
        self.n, self.http, self.smtp, self.smtp_port = n, http, smtp, smtp_port
        self.seq = 0
        self.logins = 0

    async def login(self, rng: random.Random, probe_share: float) -> None:
        address = f"team-{self.n}@agency-{self.n % 50}.example"
        ref = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=8))
        code = f"{rng.randrange(10**6):06d}"
        if rng.random() < probe_share:
            status, body, _ = await self.http.get("/api/v1/messages?limit=1")
            msgs = json.loads(body).get("messages") or [] if status == 200 else []
            self.seq = max(self.seq, int(msgs[0]["Seq"]) if msgs else 0)
        q = urlencode({"query": f"to:{address} subject:verification {ref}", "after": self.seq, "timeout": "30",
                       "folder": "inbox"})
        self.http.send_get(f"/api/v1/wait?{q}")
        answer = asyncio.ensure_future(self.http.read_response())
        raw = code_email(address, new_message_id(), code, ref, f"user{self.n}@agency.example", 5, time.time())
        if self.smtp is not None:
            await self.smtp.sendmail(SENDER, [address], raw)
        else:
            await aiosmtplib.send(raw, sender=SENDER, recipients=[address], hostname="127.0.0.1",
                                  port=self.smtp_port, timeout=60, start_tls=False, use_tls=False)
        status, body, _ = await answer
        mail = json.loads(body) if status == 200 else {}
        if mail.get("Code") != code:
            raise RuntimeError(f"wait answered {status} with code {mail.get('Code')!r}, sent {code}")
        self.seq = max(self.seq, int(mail["Seq"]))
        self.logins += 1


async def drive(url: str, smtp_port: int, logins: int, users: int, rate: float, probe_share: float,
                reuse_smtp: bool, seed: int) -> float:
    """`logins` paced logins over `users` users; returns the wall seconds it took."""
    rng = random.Random(seed)
    crowd = []
    for n in range(users):
        smtp = None
        if reuse_smtp:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, timeout=60, start_tls=False, use_tls=False)
            await smtp.connect()
        crowd.append(User(n + seed * 1000, await KeepAlive.open(url), smtp, smtp_port))
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def worker(u: User) -> None:
        while True:
            i = await queue.get()
            if i < 0:
                return
            await u.login(rng, probe_share)

    tasks = [asyncio.ensure_future(worker(u)) for u in crowd]
    t0 = time.monotonic()
    for i in range(logins):   # open loop: one login every 1/rate s, whoever is free takes it
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        queue.put_nowait(i)
    for _ in crowd:
        queue.put_nowait(-1)
    await asyncio.gather(*tasks)
    took = time.monotonic() - t0
    for u in crowd:
        await u.http.close()
        if u.smtp is not None:
            await u.smtp.quit()
    return took


def _user_sys(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one process (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / procs.CLK_TCK, int(fields[12]) / procs.CLK_TCK


def _run_ns(pid: int) -> int:
    """Time on CPU of one process in ns, from the scheduler (/proc/PID/schedstat): exact, where
    utime and stime are sampled at the clock tick (±1 tick of 10 ms per reading)."""
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
        return int(f.read().split()[0])


def _instructions(dump: Path) -> int:
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def _dumps(pattern: Path) -> list[Path]:
    return sorted(pattern.parent.glob(pattern.name + ".*"), key=lambda p: p.stat().st_mtime)


def measure(python: str, tag: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One round: start an inbox, warm it, measure `args.logins` logins, stop it."""
    child, cg = start_inbox(python, work, tag, args.callgrind)
    try:
        url, port, pid = child.ready["url"], child.ready["smtp_port"], child.proc.pid
        asyncio.run(drive(url, port, args.warmup, args.users, args.rate, args.probe_share, args.reuse_smtp, 1))
        if cg is not None:
            subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
        user0, sys0, run0 = *_user_sys(pid), _run_ns(pid)
        took = asyncio.run(drive(url, port, args.logins, args.users, args.rate, args.probe_share, args.reuse_smtp, 2))
        user1, sys1, run1 = *_user_sys(pid), _run_ns(pid)
        per = 1e3 / args.logins
        out: dict[str, Any] = {"side": tag, "logins": args.logins, "wall_s": round(took, 2),
                               "cpu_ms_per_login": round((run1 - run0) / 1e9 * per, 4),
                               "user_ms": round((user1 - user0) * per, 4), "sys_ms": round((sys1 - sys0) * per, 4)}
        if cg is not None:
            subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
            out["instructions_per_login"] = _instructions(_dumps(cg)[-1]) // args.logins
        return out
    finally:
        procs.stop_child(child)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.inbox_per_login", description=__doc__.split("\n")[0])
    ap.add_argument("--old-python", default="", help="the python of another checkout's venv (alternating rounds)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds per side")
    ap.add_argument("--logins", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--rate", type=float, default=100.0, help="logins per second")
    ap.add_argument("--probe-share", type=float, default=0.25)
    ap.add_argument("--reuse-smtp", action="store_true", help="one persistent SMTP session per user")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("/tmp/inbox_per_login"))
    args = ap.parse_args(argv)
    if args.callgrind and shutil.which("valgrind") is None:
        print("inbox_per_login: error: --callgrind needs valgrind", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    sides = [("new", sys.executable)] + ([("old", args.old_python)] if args.old_python else [])
    results: dict[str, list[dict[str, Any]]] = {tag: [] for tag, _ in sides}
    for r in range(args.rounds):
        order = sides if r % 2 == 0 else sides[::-1]   # ABBA: drift hits both sides
        for tag, python in order:
            res = measure(python, f"{tag}-{r}", args, args.out)
            results[tag].append(res)
            print(json.dumps({**res, "load": round(os.getloadavg()[0], 2)}), flush=True)
    for tag, rows in results.items():
        key = "instructions_per_login" if args.callgrind else "cpu_ms_per_login"
        print(f"{tag}: median {key} {statistics.median(x[key] for x in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
