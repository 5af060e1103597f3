"""A mail queued while this process's sender has room is queued already claimed and handed to the
sender after the commit; rolled back, it is neither queued nor sent; with no room, the poll takes it."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import SMTP
from portal_testkit import SinkHandler

from mfa_harness.server.clock import ScenarioClock
from mfa_harness.server.outbox import Outbox
from mfa_harness.server.passwords import Passwords
from mfa_harness.server.policy import Policy
from mfa_harness.server.portal import Portal
from mfa_harness.server.seeding import seed_accounts
from mfa_harness.server.storage import Store


def test_after_commit_hooks_run_after_the_commit_only(tmp_path):
    store = Store(str(tmp_path / "p.db"))
    ran: list[str] = []
    with store.tx():
        store.after_commit(lambda: ran.append(str(store.meta_get("k"))))
        with store.tx():  # a nested use joins: its hook waits for the outer commit
            store._execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            store.after_commit(lambda: ran.append("nested"))
        assert ran == []
    assert ran == ["v", "nested"]
    with pytest.raises(RuntimeError), store.tx():
        store.after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("boom")
    with store.tx():
        pass
    assert ran == ["v", "nested"]
    store.close()


async def _login_and_send(tmp_path, concurrency: int) -> tuple[tuple, list[str], int, int]:
    """One login through a real Outbox (its poll slowed to once an hour) to an SMTP sink: the outbox row
    as the login's transaction left it, the SQL the sender ran, the sender's pid and the mails the sink got.

    The sink runs on this coroutine's own loop, not on a thread: once Locust is imported in the same
    pytest process (other test folders), gevent makes a thread a greenlet of this one, and its running
    loop would make `asyncio.run` refuse to start."""
    handler = SinkHandler()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler, hostname="sink.local"),
                                                            "127.0.0.1", 0)
    sink_port = server.sockets[0].getsockname()[1]
    store = Store(str(tmp_path / "p.db"))
    store.attach_clock(ScenarioClock(0.0, 1.0, store.clock_offset))
    passwords = Passwords("cheap", workers=1)
    seed_accounts(store, passwords, 4, 3)
    outbox = Outbox(store, store.clock, Policy(), "127.0.0.1", sink_port, concurrency=concurrency,
                    poll_interval=3600.0)
    sender = asyncio.create_task(outbox.run())
    await asyncio.sleep(0.05)  # its first poll has run
    portal = Portal(store, store.clock, Policy(), passwords, outbox, frozenset(), b"k" * 32, harness=True)
    acct = next(a for a in store.accounts() if a["program"] != "affiliate")
    statements: list[str] = []
    login = await portal.login_partner(acct["username"], acct["password"], None, "device")
    assert login.ok
    row = store.conn.execute("SELECT state, claimed_by, attempts FROM outbox").fetchone()
    store.conn.set_trace_callback(statements.append)
    for _ in range(600 if concurrency else 0):  # generous: a busy machine
        if store.conn.execute("SELECT state FROM outbox").fetchone()[0] == "sent":
            break
        await asyncio.sleep(0.05)
    store.conn.set_trace_callback(None)
    await outbox.stop()
    sender.cancel()
    passwords.pool.shutdown()
    claims = [s for s in statements if s.startswith("UPDATE outbox SET state = 'sending'")]
    store.close()
    server.close()
    await server.wait_closed()
    return row, claims, outbox.pid, len(handler.messages)


def test_mail_queued_with_room_is_claimed_in_the_login_transaction(tmp_path):
    row, claims, pid, mails = asyncio.run(_login_and_send(tmp_path, concurrency=32))
    assert row == ("sending", pid, 1)        # claimed by this process, first attempt counted
    assert claims == []                      # no claim transaction of the sender's own
    assert mails == 1


def test_mail_queued_without_room_is_left_to_the_poll(tmp_path):
    """No room (concurrency 0): queued as before; the sender is woken, but cannot take it either."""
    row, _, _, _ = asyncio.run(_login_and_send(tmp_path, concurrency=0))
    assert row == ("queued", None, 0)
