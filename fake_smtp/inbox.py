"""The delivery pipeline: SMTP decisions in, visible messages and history lines out.

``Inbox`` asks the fault engine at each SMTP stage, records every decision in the
delivery history, parses accepted mail (off the loop when large or made of many parts),
and makes it visible now or later (delay, reorder buffer, duplicate).  Timers are loop
timers, one per held message; nothing polls.  With Maildir, held mail is on disk from
the moment it is accepted (before the 250), so a kill -9 loses none of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mfa_harness.fake_smtp.codes import CodeExtractor
from mfa_harness.fake_smtp.fault_engine import Fate, FaultEngine, Refusal
from mfa_harness.fake_smtp.history import DeliveryLog
from mfa_harness.fake_smtp.maildir import Maildir
from mfa_harness.fake_smtp.mime import Summary, needs_worker, summarize
from mfa_harness.fake_smtp.restore import BadFile, stored_message
from mfa_harness.fake_smtp.store import Store, StoredMessage
from mfa_harness.timebase import Timebase

log = logging.getLogger("fake_smtp")

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_ID_CHARS = bytes(ord(_B62[i % 62]) for i in range(256))


def new_id() -> str:
    """A 22-character alphanumeric message ID (Mailpit's ID shape), ~131 random bits."""
    return os.urandom(22).translate(_ID_CHARS).decode("ascii")


@dataclass
class Stats:
    accepted: int = 0
    accepted_size: int = 0
    rejected: int = 0
    ignored: int = 0


@dataclass
class ReorderBuffer:
    messages: list[StoredMessage] = field(default_factory=list)
    handle: asyncio.TimerHandle | None = None
    release_wall: float = 0.0


@dataclass
class Held:
    """An accepted message not yet visible (delay or reorder), with what remains of its fate."""

    msg: StoredMessage
    fate: Fate
    until_wall: float
    handle: asyncio.TimerHandle | None = None


class Inbox:
    """Connects SMTP sessions, the fault engine, the store, Maildir and the history."""

    def __init__(self, clock: Timebase, store: Store, engine: FaultEngine, history: DeliveryLog,
                 codes: CodeExtractor, maildir: Maildir | None = None,
                 id_factory: Callable[[], str] = new_id) -> None:
        self.clock = clock
        self.store = store
        self.engine = engine
        self.history = history
        self.codes = codes
        self.maildir = maildir
        self.new_id = id_factory
        self.stats = Stats()
        self.pending: dict[str, Held] = {}
        self._reorder: dict[int, ReorderBuffer] = {}
        self._pending_files: dict[str, tuple[str, float]] = {}  # msg id -> (.Pending file, its until_wall)
        self.quarantined: list[str] = []  # Maildir files moved aside at start (their new paths)

    # -- SMTP stages ---------------------------------------------------------------------
    def _refused(self, r: Refusal | None, recipients: tuple[str, ...] = (), message_id: str | None = None,
                 code: str | None = None) -> Refusal | None:
        if r is not None:
            self.stats.rejected += 1
            self.history.record("refused", message_id=message_id, recipients=recipients, code=code, rule=r.rule,
                                stage=r.stage, smtp_code=r.code, fault=r.fault)
        return r

    def on_connect(self, open_connection: bool = False) -> Refusal | None:
        """The connect-stage decision: asked by each new connection, and again by each transaction
        after the first on one connection (``open_connection``: the refusal as MAIL's answer, see
        ``Refusal.in_session``), so a sender that keeps its connection gets one decision per message
        as one that connects per message does. Recorded alike: ``stage`` connect."""
        refusal = self.engine.on_connect(self.clock.st())
        if refusal is not None and open_connection:
            refusal = refusal.in_session()
        return self._refused(refusal)

    def on_mail(self, sender: str) -> Refusal | None:
        return self._refused(self.engine.on_mail(self.clock.st(), sender))

    def on_rcpt(self, recipient: str) -> Refusal | None:
        return self._refused(self.engine.on_rcpt(self.clock.st(), recipient), (recipient,))

    def on_size_refused(self, stage: str, recipients: tuple[str, ...]) -> None:
        self.stats.rejected += 1
        self.history.record("refused", recipients=recipients, stage=stage, smtp_code=552, fault="size")

    async def on_data(self, mail_from: str, recipients: tuple[str, ...], raw: bytes) -> str:
        """Handle a complete DATA; returns the SMTP reply."""
        summary = await self._summarize(raw)
        code = self.codes.extract(f"{summary.subject}\n{summary.text}")
        mid = summary.message_id or None
        st = self.clock.st()
        refusal = self._refused(self.engine.on_data(st, recipients), recipients, mid, code)
        if refusal is not None:
            return refusal.reply
        self.engine.accepted(st, recipients)
        received = self.clock.wall()
        self.stats.accepted += 1
        self.stats.accepted_size += len(raw)
        self.history.record("received", message_id=mid, recipients=recipients, code=code, size=len(raw))
        fate = self.engine.fate(st, recipients)
        msg = StoredMessage(id=self.new_id(), raw=raw, mail_from=mail_from, recipients=recipients,
                            summary=summary, code=code, folder="inbox", received=received)
        self._apply_fate(msg, fate)
        return "250 OK: queued as " + msg.id

    async def _summarize(self, raw: bytes) -> Summary:
        try:
            if needs_worker(raw):  # big, or many parts: parsing could stall SMTP and the API
                return await asyncio.get_running_loop().run_in_executor(None, summarize, raw)
            return summarize(raw)
        except Exception as exc:  # a message the stdlib parser chokes on is still stored, unparsed
            log.warning("could not parse message (%s: %s); storing it raw", type(exc).__name__, exc)
            return Summary()

    # -- fates ---------------------------------------------------------------------------
    def _line(self, event: str, msg: StoredMessage, rule: int | None = None, **extra: Any) -> None:
        self.history.record(event, message_id=msg.summary.message_id or None, recipients=msg.recipients,
                            code=msg.code, rule=rule, **extra)

    def _apply_fate(self, msg: StoredMessage, fate: Fate) -> None:
        if fate.drop is not None:
            self.stats.ignored += 1
            self._line("dropped", msg, fate.drop)
            return
        if fate.spam is not None:
            msg.folder = "spam"
            self._line("spam", msg, fate.spam)
        if fate.delay > 0:
            until_st = self.clock.st() + fate.delay
            until_wall = self.clock.wall_at(until_st)
            self._line("delayed", msg, fate.delay_rule, until_st=round(until_st, 6), until_wall=round(until_wall, 6))
            self.hold(msg, fate, until_wall)
            return
        self._after_delay(msg, fate)

    def hold(self, msg: StoredMessage, fate: Fate, until_wall: float) -> None:
        """Make ``msg`` visible at ``until_wall`` (a loop timer, no polling)."""
        loop = asyncio.get_running_loop()
        delay = max(0.0, until_wall - self.clock.wall())
        held = Held(msg, fate, until_wall)
        held.handle = loop.call_at(loop.time() + delay, self._after_delay, msg, fate)
        self.pending[msg.id] = held
        self._persist_held(held)

    def _after_delay(self, msg: StoredMessage, fate: Fate) -> None:
        self.pending.pop(msg.id, None)
        if fate.reorder_rule is not None:
            self._hold_for_reorder(msg, fate)
            return
        self._deliver(msg, fate)

    def _hold_for_reorder(self, msg: StoredMessage, fate: Fate) -> None:
        rule = fate.reorder_rule
        assert rule is not None
        buf = self._reorder.get(rule)
        if buf is None:
            loop = asyncio.get_running_loop()
            wall_window = self.clock.wall_seconds(fate.reorder_window)
            buf = self._reorder[rule] = ReorderBuffer(release_wall=self.clock.wall() + wall_window)
            buf.handle = loop.call_at(loop.time() + wall_window, self._release_reorder, rule)
        buf.messages.append(msg)
        held = self.pending[msg.id] = Held(msg, fate, buf.release_wall, buf.handle)
        self._persist_held(held)

    def _release_reorder(self, rule: int) -> None:
        buf = self._reorder.pop(rule, None)
        if buf is None:
            return
        order = list(buf.messages)
        self.engine.rng.shuffle(order)
        if len(order) > 1 and order == buf.messages:
            order.reverse()
        for msg in order:
            held = self.pending.pop(msg.id, None)
            self._line("reordered", msg, rule, held=len(order))
            self._deliver(msg, held.fate if held else Fate())

    def _deliver(self, msg: StoredMessage, fate: Fate) -> None:
        self._store(msg)
        if fate.duplicate is not None:
            copy = StoredMessage(id=self.new_id(), raw=msg.raw, mail_from=msg.mail_from, recipients=msg.recipients,
                                 summary=msg.summary, code=msg.code, folder=msg.folder, received=msg.received,
                                 search_text=msg.search_text)
            self._store(copy, announce=False)
            self._line("duplicated", msg, fate.duplicate, seq=copy.seq)
            self._line("delivered", copy, seq=copy.seq, id=copy.id, folder=copy.folder)
        self._forget_held_file(msg.id)  # only now: a crash before this line repeats, never loses

    def _persist_held(self, held: Held) -> None:
        """Keep a held message in ``.Pending`` (once; again only if its due time moved)."""
        if self.maildir is None:
            return
        saved = self._pending_files.get(held.msg.id)
        if saved is not None and saved[1] == held.until_wall:
            return
        meta = self.meta(held.msg)
        meta.update(until_wall=held.until_wall, duplicate=held.fate.duplicate)
        path = self.maildir.save_pending(held.msg.raw, meta)
        self._pending_files[held.msg.id] = (path, held.until_wall)
        if saved is not None:
            self.maildir.delete(saved[0])

    def _forget_held_file(self, msg_id: str) -> None:
        saved = self._pending_files.pop(msg_id, None)
        if saved is not None and self.maildir is not None:
            self.maildir.delete(saved[0])

    def _store(self, msg: StoredMessage, announce: bool = True) -> None:
        msg.delivered = self.clock.wall()
        pruned = self.store.add(msg)
        if self.maildir is not None and self.store.get(msg.id) is msg:
            msg.path = self.maildir.save(msg.raw, self.meta(msg), msg.folder)
        self.forget_files(pruned)
        if announce:
            self._line("delivered", msg, seq=msg.seq, id=msg.id, folder=msg.folder)

    # -- persistence helpers -------------------------------------------------------------
    @staticmethod
    def meta(msg: StoredMessage) -> dict[str, Any]:
        return {"seq": msg.seq, "id": msg.id, "mail_from": msg.mail_from, "recipients": list(msg.recipients),
                "received": msg.received, "delivered": msg.delivered, "folder": msg.folder, "code": msg.code,
                "tags": msg.tags}

    def expire(self) -> list[StoredMessage]:
        """Drop messages past ``--max-age`` now (delivery prunes too, but an idle inbox must as well)."""
        pruned = self.store.prune(now=self.clock.wall())
        self.forget_files(pruned)
        return pruned

    def forget_files(self, msgs: list[StoredMessage]) -> None:
        if self.maildir is None:
            return
        for m in msgs:
            if m.path:
                self.maildir.delete(m.path)
                m.path = None

    def set_read(self, msgs: list[StoredMessage], read: bool) -> None:
        for m in self.store.set_read(msgs, read):
            if self.maildir is not None and m.path:
                m.path = self.maildir.set_read(m.path, m.folder, read)

    def reload(self) -> int:
        """Load persisted messages from Maildir (Seq order); returns how many.

        A file that cannot be loaded is quarantined (``quarantined`` lists them), never fatal.
        """
        if self.maildir is None:
            return 0
        loaded: list[tuple[int, StoredMessage, str]] = []
        for item in self.maildir.load():
            try:
                msg = stored_message(item, self.codes, self.new_id)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the inbox
                self._quarantine(item.path, exc)
                continue
            loaded.append((int(item.meta.get("seq") or 0), msg, item.path))
        loaded.sort(key=lambda t: (not t[0], t[0]))
        n = 0
        for seq, msg, path in loaded:
            if self.store.get(msg.id) is not None:  # a copied file: two messages cannot share an ID
                self._quarantine(path, BadFile(f"a second file for message ID {msg.id}"))
                continue
            msg.path = path
            self.forget_files(self.store.add(msg, seq=max(seq, self.store.last_seq + 1)))
            n += 1
        return n

    def reload_pending(self) -> int:
        """Schedule again the messages accepted but still held when the inbox stopped; returns how many.

        Each keeps its ``.Pending`` file until it is visible.  One that was already made
        visible (a crash between the two writes) is not delivered twice.
        """
        if self.maildir is None:
            return 0
        n = 0
        for item in self.maildir.pending():
            try:
                msg = stored_message(item, self.codes, self.new_id, default_received=self.clock.wall())
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the inbox
                self._quarantine(item.path, exc)
                continue
            if self.store.get(msg.id) is not None or msg.id in self.pending:
                self.maildir.delete(item.path)
                continue
            until_wall = float(item.meta.get("until_wall", 0.0))
            self._pending_files[msg.id] = (item.path, until_wall)
            self.hold(msg, Fate(duplicate=item.meta.get("duplicate")), until_wall)
            n += 1
        return n

    def _quarantine(self, path: str, exc: Exception) -> None:
        assert self.maildir is not None
        reason = str(exc) if isinstance(exc, BadFile) else f"{type(exc).__name__}: {exc}"
        moved = self.maildir.quarantine(path)
        self.quarantined.append(moved or path)
        log.warning("quarantined Maildir file %s (%s): %s", path, reason,
                    f"moved to {moved}" if moved else "could not move it; skipped")

    def cancel_pending(self) -> list[Held]:
        """Stop every delay/reorder timer (shutdown).

        With Maildir the held messages are already in ``PATH/.Pending`` (written when
        accepted); ``reload_pending`` schedules them again for the wall time they were due.
        """
        held = list(self.pending.values())
        for h in held:
            if h.handle is not None:
                h.handle.cancel()
        self.pending.clear()
        self._reorder.clear()
        return held
