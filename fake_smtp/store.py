"""The mailbox: messages indexed by Seq, ID and recipient, with retention and waiters.

Designed for 100,000 messages: listing pages walks the Seq order from the newest end,
``to:user@host`` queries use the recipient index, and long-poll waiters are woken by
``add`` through their own futures (indexed by recipient when the query names one), so a
delivery costs O(waiters for its recipients) and nobody polls.

``after`` semantics: ``wait`` first looks for a stored match with Seq > after, then
registers the waiter in the same loop step, so a message delivered between a client's
search and its wait is never missed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from mfa_harness.fake_smtp.mime import Summary
from mfa_harness.fake_smtp.search import Query

FOLDERS = ("inbox", "spam")


@dataclass(slots=True, eq=False)
class StoredMessage:
    """One visible message: raw bytes plus the small parsed summary."""

    id: str
    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]
    summary: Summary
    code: str | None
    folder: str
    received: float
    delivered: float = 0.0
    seq: int = 0
    read: bool = False
    tags: list[str] = field(default_factory=list)
    addresses: frozenset[str] = frozenset()
    bcc_envelope: tuple[str, ...] = ()
    search_text: str = ""
    path: str | None = None  # Maildir file, when persisted

    def __post_init__(self) -> None:
        s = self.summary
        header_addrs = {a["Address"].lower() for a in s.to + s.cc if a["Address"]}
        envelope = {r.lower() for r in self.recipients}
        self.addresses = frozenset(header_addrs | envelope)
        self.bcc_envelope = tuple(r for r in self.recipients if r.lower() not in header_addrs)
        if not self.tags:
            self.tags = list(s.tags)
        if not self.search_text:
            addr_words = " ".join(sorted(self.addresses)) + " " + s.from_["Address"] + " " + s.from_["Name"]
            self.search_text = f"{s.subject}\n{addr_words}\n{s.text}".lower()
        s.text = ""  # kept once, lower-cased, in search_text; the full view re-parses the raw bytes

    @property
    def size(self) -> int:
        return len(self.raw)


@dataclass(eq=False)
class Waiter:
    query: Query
    after: int
    folder: str  # inbox, spam or any
    future: asyncio.Future[StoredMessage]

    def accepts(self, msg: StoredMessage) -> bool:
        return (msg.seq > self.after and (self.folder == "any" or msg.folder == self.folder)
                and self.query.matches(msg))


class Store:
    """In-memory mailbox with bounded retention: a message count, a byte budget, an age."""

    def __init__(self, max_messages: int = 100_000, max_age: float = 0.0, max_bytes: int = 0) -> None:
        self.max_messages = max_messages
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.total_bytes = 0  # raw size of every stored message
        self._by_seq: dict[int, StoredMessage] = {}
        self._by_id: dict[str, StoredMessage] = {}
        self._by_rcpt: dict[str, dict[int, None]] = {}
        self._waiters_by_rcpt: dict[str, set[Waiter]] = {}
        self._waiters_any: set[Waiter] = set()
        self.last_seq = 0
        self.unread = 0
        self.deleted_total = 0
        self._tag_counts: Counter[str] = Counter()
        self.folder_counts: Counter[str] = Counter()
        self.folder_unread: Counter[str] = Counter()

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._by_seq)

    def get(self, msg_id: str) -> StoredMessage | None:
        return self._by_id.get(msg_id)

    def latest(self) -> StoredMessage | None:
        for seq in reversed(self._by_seq):
            return self._by_seq[seq]
        return None

    def oldest(self) -> StoredMessage | None:
        for seq in self._by_seq:
            return self._by_seq[seq]
        return None

    def tags(self) -> list[str]:
        """All tags in use, sorted."""
        return sorted(t for t, n in self._tag_counts.items() if n > 0)

    def _candidates_newest_first(self, query: Query | None) -> Iterator[StoredMessage]:
        exact = query.exact_recipients if query else ()
        if exact:
            seqs = self._by_rcpt.get(exact[0], {})
            for seq in reversed(seqs):
                yield self._by_seq[seq]
        else:
            yield from reversed(self._by_seq.values())

    def select(self, query: Query | None, folder: str = "any") -> Iterator[StoredMessage]:
        """Matching messages, newest first."""
        for m in self._candidates_newest_first(query):
            if folder != "any" and m.folder != folder:
                continue
            if query is None or query.matches(m):
                yield m

    def page(self, query: Query | None, start: int, limit: int,
             folder: str = "any") -> tuple[int, int, list[StoredMessage]]:
        """(matches, unread matches, the page ``start:start+limit``), newest first.

        Without search terms the counts come from counters and only the page is walked.
        """
        if query is None or not query.terms:
            if folder == "any":
                items = list(itertools.islice(reversed(self._by_seq.values()), start, start + limit))
                return len(self._by_seq), self.unread, items
            items = list(itertools.islice(self.select(None, folder), start, start + limit))
            return self.folder_counts[folder], self.folder_unread[folder], items
        total = unread = 0
        items = []
        for m in self.select(query, folder):
            if start <= total < start + limit:
                items.append(m)
            total += 1
            unread += not m.read
        return total, unread, items

    def first_after(self, query: Query, after: int, folder: str) -> StoredMessage | None:
        """The matching message with the smallest Seq greater than ``after``."""
        if after >= self.last_seq:
            return None
        exact = query.exact_recipients
        if exact:
            seqs = self._by_rcpt.get(exact[0], {})
            candidates: Iterator[int] = (s for s in seqs if s > after)
        elif self.last_seq - after <= len(self._by_seq):
            candidates = (s for s in range(after + 1, self.last_seq + 1) if s in self._by_seq)
        else:
            candidates = (s for s in self._by_seq if s > after)
        for seq in candidates:
            m = self._by_seq[seq]
            if (folder == "any" or m.folder == folder) and query.matches(m):
                return m
        return None

    # -- waiting -------------------------------------------------------------------------
    def wait(self, query: Query, after: int, folder: str) -> asyncio.Future[StoredMessage]:
        """A future resolved with the first match with Seq > after (maybe already stored)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[StoredMessage] = loop.create_future()
        found = self.first_after(query, after, folder)
        if found is not None:
            fut.set_result(found)
            return fut
        w = Waiter(query, after, folder, fut)
        exact = query.exact_recipients
        if exact:
            self._waiters_by_rcpt.setdefault(exact[0], set()).add(w)
        else:
            self._waiters_any.add(w)
        fut.add_done_callback(lambda _f: self._forget(w))
        return fut

    def _forget(self, w: Waiter) -> None:
        exact = w.query.exact_recipients
        if exact:
            group = self._waiters_by_rcpt.get(exact[0])
            if group is not None:
                group.discard(w)
                if not group:
                    del self._waiters_by_rcpt[exact[0]]
        else:
            self._waiters_any.discard(w)

    @property
    def waiter_count(self) -> int:
        return len(self._waiters_any) + sum(len(g) for g in self._waiters_by_rcpt.values())

    def cancel_waiters(self) -> None:
        for w in list(self._waiters_any) + [w for g in self._waiters_by_rcpt.values() for w in g]:
            if not w.future.done():
                w.future.cancel()

    def _wake(self, msg: StoredMessage) -> None:
        candidates = list(self._waiters_any)
        for addr in msg.addresses:
            candidates.extend(self._waiters_by_rcpt.get(addr, ()))
        for w in candidates:
            if not w.future.done() and w.accepts(msg):
                w.future.set_result(msg)

    # -- writing -------------------------------------------------------------------------
    def add(self, msg: StoredMessage, seq: int | None = None) -> list[StoredMessage]:
        """Store ``msg`` with the next Seq (or ``seq`` when reloading); returns pruned messages."""
        if seq is None:
            seq = self.last_seq + 1
        if seq <= self.last_seq:
            raise ValueError(f"Seq {seq} is not above the last Seq {self.last_seq}")
        msg.seq = seq
        self.last_seq = seq
        self._by_seq[seq] = msg
        self._by_id[msg.id] = msg
        self.total_bytes += msg.size
        for addr in msg.addresses:
            self._by_rcpt.setdefault(addr, {})[seq] = None
        if not msg.read:
            self.unread += 1
            self.folder_unread[msg.folder] += 1
        self.folder_counts[msg.folder] += 1
        self._tag_counts.update(msg.tags)
        pruned = self.prune(now=msg.delivered)
        if msg.seq in self._by_seq:
            self._wake(msg)
        return pruned

    def _remove(self, msg: StoredMessage) -> None:
        del self._by_seq[msg.seq]
        del self._by_id[msg.id]
        self.total_bytes -= msg.size
        for addr in msg.addresses:
            group = self._by_rcpt.get(addr)
            if group is not None:
                group.pop(msg.seq, None)
                if not group:
                    del self._by_rcpt[addr]
        if not msg.read:
            self.unread -= 1
            self.folder_unread[msg.folder] -= 1
        self.folder_counts[msg.folder] -= 1
        self._tag_counts.subtract(msg.tags)
        self.deleted_total += 1

    def delete(self, ids: list[str]) -> list[StoredMessage]:
        """Delete the given IDs (unknown IDs are ignored); returns the deleted."""
        gone = []
        for i in ids:
            m = self._by_id.get(i)
            if m is not None:
                self._remove(m)
                gone.append(m)
        return gone

    def delete_all(self) -> list[StoredMessage]:
        gone = list(self._by_seq.values())
        for m in gone:
            self._remove(m)
        return gone

    def set_read(self, msgs: list[StoredMessage], read: bool) -> list[StoredMessage]:
        """Set the read flag; returns the messages whose flag changed."""
        changed = []
        for m in msgs:
            if m.read != read and m.id in self._by_id:
                m.read = read
                self.unread += -1 if read else 1
                self.folder_unread[m.folder] += -1 if read else 1
                changed.append(m)
        return changed

    def prune(self, now: float) -> list[StoredMessage]:
        """Drop the oldest messages beyond ``max_messages`` or ``max_bytes``, or older than ``max_age``."""
        pruned = []
        for _ in range(len(self._by_seq)):
            oldest = self.oldest()
            if oldest is None:
                break
            too_many = self.max_messages > 0 and len(self._by_seq) > self.max_messages
            too_big = self.max_bytes > 0 and self.total_bytes > self.max_bytes
            too_old = self.max_age > 0 and oldest.delivered < now - self.max_age
            if not (too_many or too_big or too_old):
                break
            self._remove(oldest)
            pruned.append(oldest)
        return pruned
