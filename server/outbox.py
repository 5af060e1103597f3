"""Durable mail outbox: rows in SQLite, sent by an asyncio loop (`smtp_send`: aiosmtplib's exchange,
over SMTP sessions kept open between mails).

Delivery is at least once. A row is claimed atomically before a send, so several portal
processes never send the same row twice: a mail queued while this process's sender has room is
inserted already claimed by it, in the transaction that queues it, and handed to the sender
after the commit (`hand_off_claim`, `hand_off`); any other due row is claimed by the poll
(`BEGIN IMMEDIATE` + conditional UPDATE). The only duplicate window is a crash between the
server's 250 and recording it, and the audit events (two `email_attempt` lines for one
`outbox_id`) make that visible. Claims of dead processes are
released, so a restarted portal sends what a killed one left behind.

4xx replies, refused connections and timeouts are retried with exponential backoff until the
code (or reset token) would have expired; 5xx replies are permanent failures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import aiosmtplib

from . import smtp_send
from .clock import ScenarioClock
from .mail import FROM_ADDRESS
from .policy import Policy
from .rows import Mail
from .storage import Store

log = logging.getLogger("portal.outbox")
SENDER = FROM_ADDRESS.split("<")[1].rstrip(">")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def classify(exc: BaseException) -> tuple[str, int | None, str]:
    """(result, smtp_code, detail) for a failed send: tempfail, permfail or error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return ("tempfail" if 400 <= first.code < 500 else "permfail"), first.code, first.message
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return "tempfail", exc.code, exc.message
        if exc.code >= 500:
            return "permfail", exc.code, exc.message
        return "error", exc.code, exc.message
    return "error", None, f"{type(exc).__name__}: {exc}"


class Outbox:
    """Claims due rows and sends them, at most `concurrency` at a time in this process."""

    def __init__(self, store: Store, clock: ScenarioClock, policy: Policy, smtp_host: str, smtp_port: int,
                 bugs: frozenset[str] = frozenset(), concurrency: int = 32, poll_interval: float = 0.1) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.bugs = bugs
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.pid = os.getpid()
        # the EHLO name, looked up once (aiosmtplib.send looked it up in a worker thread per message)
        self.local_hostname = socket.getfqdn()
        # sessions kept open between mails, made in this process (after any fork), closed by `stop`
        self.sender = smtp_send.Sender(smtp_host, smtp_port, self.local_hostname, policy.smtp_timeout)
        self._wake = asyncio.Event()
        self._active: set[asyncio.Task] = set()
        self._stopping = False
        self._backlog = False  # rows may be waiting that a poll right after a send ends would take

    def wake(self) -> None:
        """Poll now rather than at the next interval (mail queued that this sender could not take at once)."""
        self._wake.set()

    def hand_off_claim(self) -> tuple[int, float] | None:
        """For a mail being queued now: (pid, claim until wall) when this sender has room to send it at
        once (`Store.enqueue_mail` then queues it claimed, and `hand_off` starts it after the commit),
        None to leave it to the poll. A transaction queueing two mails may exceed `concurrency` by one."""
        try:
            asyncio.get_running_loop()  # the sender's own loop: a caller outside it leaves the mail to the poll
        except RuntimeError:
            return None
        if self._stopping or len(self._active) >= self.concurrency:
            self._backlog = True
            self.wake()  # the poll runs after this transaction: the loop cannot switch inside it
            return None
        return self.pid, self.clock.wall() + self.policy.smtp_timeout * 3 + 5

    def hand_off(self, row: Mail) -> None:
        """Send a row queued with `hand_off_claim`'s claim (called after its transaction committed)."""
        self._start(row)

    def _start(self, row: Mail) -> None:
        task = asyncio.create_task(self._deliver(row))
        self._active.add(task)
        task.add_done_callback(self._active.discard)

    def release_dead_claims(self) -> None:
        """Give back rows claimed by processes that no longer exist (kill -9)."""
        dead = [outbox_id for outbox_id, pid in self.store.mail_claims(except_pid=self.pid)
                if pid is None or not _pid_alive(pid)]
        if dead:
            self.store.release_claims(dead)

    def claim(self, limit: int) -> list[Mail]:
        """Atomically take up to `limit` due rows for this process."""
        if limit <= 0:
            return []
        wall = self.clock.wall()
        return self.store.claim_due_mail(self.pid, wall, wall + self.policy.smtp_timeout * 3 + 5, limit)

    async def run(self) -> None:
        """Poll-and-send loop; ends when `stop()` is called."""
        self.release_dead_claims()
        polls = 0
        while not self._stopping:
            try:
                polls += 1
                if polls % 50 == 1:
                    self.release_dead_claims()
                self._backlog = False
                limit = self.concurrency - len(self._active)
                rows = self.claim(limit)
                self._backlog = self._backlog or (limit > 0 and len(rows) >= limit)
                for row in rows:
                    self._start(row)
            except Exception:  # a locked or broken database must not kill the sender loop
                log.exception("outbox poll failed")
            self.sender.close_idle()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._active:
            await asyncio.wait(list(self._active), timeout=self.policy.smtp_timeout + 1)
        self.sender.close()

    async def _deliver(self, row: Mail) -> None:
        try:
            await self._deliver_inner(row)
        finally:
            if self._backlog:  # room again for rows the last poll had to leave
                self.wake()

    async def _deliver_inner(self, row: Mail) -> None:
        store = self.store
        base = {"outbox_id": row.id, "message_id": row.message_id}
        final = {**base, "recipient": row.recipient, "code_id": row.code_id}
        if self.clock.now() >= row.deadline_st:
            with store.tx():
                store.mark_mail_failed(row.id)
                store.event("email_failed", **final, reason="expired")
            return
        try:
            assert row.raw is not None, "a claimed row keeps its message until it is sent or failed"
            await self.sender.send(row.raw, SENDER, row.recipient)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            result, code, detail = classify(exc)
        else:
            with store.tx():
                store.mark_mail_sent(row.id)
                store.event("email_attempt", **base, attempt=row.attempts, result="sent", smtp_code=250, detail="accepted")
                store.event("email_sent", **final)
            return
        now = self.clock.now()
        backoff = min(self.policy.smtp_backoff_max, self.policy.smtp_backoff_initial * 2 ** (row.attempts - 1))
        if result == "permfail":
            reason = "permanent"
        elif result == "tempfail" and "outbox-no-retry" in self.bugs:
            reason = "permanent"
        elif now + backoff >= row.deadline_st:
            reason = "expired"
        else:
            reason = None
        with store.tx():
            store.event("email_attempt", **base, attempt=row.attempts, result=result, smtp_code=code,
                        detail=str(detail)[:200])
            if reason is None:
                next_wall = self.clock.wall() + max(0.02, self.clock.wall_seconds(backoff))
                store.retry_mail(row.id, next_wall)
            else:
                store.mark_mail_failed(row.id)
                store.event("email_failed", **final, reason=reason)
