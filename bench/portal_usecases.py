"""The portal's use cases per complete MFA login, in process: SQL statements, write transactions, CPU.

Drives `Portal` directly (no HTTP): login, verify with the code from the outbox, the account
page's `account_served` event, logout, on a WAL file database, cheap passwords. `--outbox`
also runs the real mail sender against an in-process SMTP server, its SQL counted (run this
module with another checkout's Python to measure that checkout's portal). Counts are exact
(SQLite's trace callback); CPU moves with the machine's load, so compare checkouts by
instructions instead, one side after the other:

    git archive REV | tar -x -C /tmp/old
    valgrind --tool=callgrind --callgrind-out-file=cg.old.20 python -m bench.portal_usecases --checkout /tmp/old --logins 20
    valgrind --tool=callgrind --callgrind-out-file=cg.old.120 python -m bench.portal_usecases --checkout /tmp/old --logins 120
    (the same for this checkout; instructions per login = (totals at 120 - totals at 20) / 100)

Not part of the suite. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time

CODE = re.compile(rb"Your verification code is: (\d{6})")
WARM_UP, TRACED = 30, 50


class Sink:
    """An in-process SMTP server (aiosmtpd) for `--outbox`: keeps the last message, counts them."""

    def __init__(self) -> None:
        self.count, self.last = 0, b""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        self.last = envelope.original_content  # type: ignore[attr-defined]
        return "250 OK"


async def run(logins: int, with_outbox: bool = False) -> dict[str, float]:
    from mfa_harness.server.clock import ScenarioClock
    from mfa_harness.server.passwords import Passwords
    from mfa_harness.server.policy import Policy
    from mfa_harness.server.portal import Portal
    from mfa_harness.server.seeding import seed_accounts
    from mfa_harness.server.storage import Store, session_tag

    store = Store(os.path.join(tempfile.mkdtemp(), "portal.db"))
    store.attach_clock(ScenarioClock(0.0, 1.0, store.clock_offset))
    passwords = Passwords("cheap", workers=1)
    seed_accounts(store, passwords, 60, 5)
    outbox = sender = None
    sink = Sink()
    if with_outbox:  # the real sender, its idle poll slowed down so that only the logins' work counts
        from aiosmtpd.smtp import SMTP

        from mfa_harness.server.outbox import Outbox
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(sink, decode_data=False, hostname="sink", loop=loop),
                                          "127.0.0.1", 0)
        outbox = Outbox(store, store.clock, Policy(), "127.0.0.1", server.sockets[0].getsockname()[1],
                        poll_interval=3600.0)
        sender = asyncio.create_task(outbox.run())
        await asyncio.sleep(0.05)
    portal = Portal(store, store.clock, Policy(), passwords, outbox, frozenset(), b"k" * 32, harness=True)
    accounts = [a for a in store.accounts() if a["program"] != "affiliate"]

    async def sent(count: int) -> bytes:
        while sink.count < count or (outbox is not None and outbox._active):
            await asyncio.sleep(0.0005)
        return sink.last

    async def one(i: int) -> None:
        acct = accounts[i % len(accounts)]
        login = await portal.login_partner(acct["username"], acct["password"], None, f"device-{i % len(accounts)}")
        if with_outbox:
            raw = await sent(i + 1)
        else:
            raw = store.conn.execute("SELECT raw FROM outbox ORDER BY id DESC LIMIT 1").fetchone()[0]
        verify = await portal.verify(login.pending_sid, CODE.search(raw).group(1).decode())
        assert login.ok and verify.ok, (login, verify)
        with store.tx():
            store.event("account_served", session=session_tag(verify.session_sid), partner_id=acct["partner_id"],
                        mfa=True, path="/partner/account")
        portal.logout(verify.session_sid)

    counts = {"statements": 0, "write_tx": 0, "selects": 0}

    def trace(sql: str) -> None:
        counts["statements"] += 1
        counts["write_tx"] += sql.startswith("BEGIN")
        counts["selects"] += sql.lstrip().upper().startswith("SELECT")

    for i in range(WARM_UP):
        await one(i)
    store.conn.set_trace_callback(trace)
    for i in range(TRACED):
        await one(WARM_UP + i)
    store.conn.set_trace_callback(None)
    started = time.process_time()
    for i in range(logins):
        await one(WARM_UP + TRACED + i)
    cpu = time.process_time() - started
    if outbox is not None and sender is not None:
        await outbox.stop()
        sender.cancel()
    passwords.pool.shutdown()
    store.close()
    # without the outbox, the driver's own outbox read is one SELECT per login: left out
    own = 0 if with_outbox else 1
    return {"cpu_ms_per_login": cpu * 1000 / max(1, logins), "statements": counts["statements"] / TRACED - own,
            "write_tx": counts["write_tx"] / TRACED, "selects": counts["selects"] / TRACED - own,
            "outbox": with_outbox}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.portal_usecases", description=__doc__.splitlines()[0])
    p.add_argument("--checkout", default=None, help="another checkout whose server/ to drive (default: this one)")
    p.add_argument("--logins", type=int, default=200, help="measured logins after warm-up (default 200)")
    p.add_argument("--outbox", action="store_true",
                   help="send each code through the real outbox to an in-process SMTP server (its SQL counted)")
    args = p.parse_args()
    if args.checkout:
        sys.path.insert(0, os.path.abspath(args.checkout))
    print(json.dumps(asyncio.run(run(args.logins, args.outbox))))


if __name__ == "__main__":
    main()
