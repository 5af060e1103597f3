"""The portal's use cases per complete MFA login, in process: SQL statements, write transactions, CPU.

Drives `Portal` directly (no HTTP): login, verify with the code from the outbox, the account
page's `account_served` event, logout, on a WAL file database, cheap passwords. Counts are exact
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


async def run(logins: int) -> dict[str, float]:
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
    portal = Portal(store, store.clock, Policy(), passwords, None, frozenset(), b"k" * 32, harness=True)
    accounts = [a for a in store.accounts() if a["program"] != "affiliate"]

    async def one(i: int) -> None:
        acct = accounts[i % len(accounts)]
        login = await portal.login_partner(acct["username"], acct["password"], None, f"device-{i % len(accounts)}")
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
    passwords.pool.shutdown()
    store.close()
    # the driver's own outbox read is one SELECT per login: left out
    return {"cpu_ms_per_login": cpu * 1000 / max(1, logins), "statements": counts["statements"] / TRACED - 1,
            "write_tx": counts["write_tx"] / TRACED, "selects": counts["selects"] / TRACED - 1}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.portal_usecases", description=__doc__.splitlines()[0])
    p.add_argument("--checkout", default=None, help="another checkout whose server/ to drive (default: this one)")
    p.add_argument("--logins", type=int, default=200, help="measured logins after warm-up (default 200)")
    args = p.parse_args()
    if args.checkout:
        sys.path.insert(0, os.path.abspath(args.checkout))
    print(json.dumps(asyncio.run(run(args.logins))))


if __name__ == "__main__":
    main()
