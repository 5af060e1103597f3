"""Unit tests of the store, its indexes, retention and long-poll waiters."""

from __future__ import annotations

import asyncio

import pytest

from mfa_harness.fake_smtp.mime import summarize
from mfa_harness.fake_smtp.search import parse
from mfa_harness.fake_smtp.store import Store, StoredMessage


def make(to: str, subject: str = "hello", body: str = "Your verification code is: 111111", *,
         folder: str = "inbox", delivered: float = 1000.0, mid: str | None = None) -> StoredMessage:
    raw = (f"From: p@x.org\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid or subject}@x>\r\n\r\n"
           f"{body}\r\n").encode()
    m = StoredMessage(id=f"id-{to}-{subject}-{delivered}", raw=raw, mail_from="p@x.org", recipients=(to,),
                      summary=summarize(raw), code=None, folder=folder, received=delivered)
    m.delivered = delivered
    return m


def test_seq_is_strictly_increasing_and_listing_is_newest_first() -> None:
    s = Store()
    for i in range(5):
        s.add(make("a@x.com", f"s{i}"))
    total, unread, page = s.page(None, 0, 3)
    assert (total, unread) == (5, 5)
    assert [m.seq for m in page] == [5, 4, 3]
    assert [m.seq for m in s.page(None, 3, 3)[2]] == [2, 1]


def test_recipient_index_is_case_insensitive_and_exact() -> None:
    s = Store()
    s.add(make("Alice@Example.com", "one"))
    s.add(make("balice@example.com", "two"))
    s.add(make("alice@example.com", "three"))
    q = parse("to:ALICE@example.COM")
    assert q.exact_recipients == ("alice@example.com",)
    assert [m.summary.subject for m in s.select(q)] == ["three", "one"]
    assert [m.summary.subject for m in s.select(parse("to:alice"))] == ["three", "two", "one"]


def test_search_fields_and_negation() -> None:
    s = Store()
    s.add(make("a@x.com", "Welcome aboard", body="nothing here"))
    s.add(make("b@x.com", "Your code", body="code: 222222"))
    assert [m.summary.subject for m in s.select(parse('subject:"welcome aboard"'))] == ["Welcome aboard"]
    assert [m.summary.subject for m in s.select(parse("222222"))] == ["Your code"]
    assert [m.summary.subject for m in s.select(parse("-subject:welcome"))] == ["Your code"]
    assert len(list(s.select(parse("is:unread")))) == 2
    assert list(s.select(parse("from:nobody@y.com"))) == []


def test_delete_and_read_keep_counters_and_indexes_right() -> None:
    s = Store()
    a = make("a@x.com", "1")
    b = make("a@x.com", "2")
    s.add(a)
    s.add(b)
    assert s.unread == 2
    s.set_read([a], True)
    assert s.unread == 1
    assert s.delete([a.id, "unknown"]) == [a]
    assert s.get(a.id) is None
    assert [m.id for m in s.select(parse("to:a@x.com"))] == [b.id]
    assert s.unread == 1
    s.delete_all()
    assert len(s) == 0 and s.unread == 0
    assert list(s.select(parse("to:a@x.com"))) == []


def test_retention_by_count_prunes_oldest_first() -> None:
    s = Store(max_messages=3)
    pruned = []
    for i in range(5):
        pruned += s.add(make("a@x.com", f"s{i}"))
    assert [m.summary.subject for m in pruned] == ["s0", "s1"]
    assert [m.seq for m in s.page(None, 0, 10)[2]] == [5, 4, 3]
    assert [m.seq for m in s.select(parse("to:a@x.com"))] == [5, 4, 3]


def test_retention_by_age() -> None:
    s = Store(max_age=60)
    s.add(make("a@x.com", "old", delivered=1000))
    s.add(make("a@x.com", "mid", delivered=1050))
    s.add(make("a@x.com", "new", delivered=1100))
    assert [m.summary.subject for m in s.select(None)] == ["new", "mid"]
    s.prune(now=1200)
    assert len(s) == 0


def test_first_after_uses_after_and_folder() -> None:
    s = Store()
    s.add(make("a@x.com", "1"))
    s.add(make("a@x.com", "2", folder="spam"))
    s.add(make("a@x.com", "3"))
    q = parse("to:a@x.com")
    assert s.first_after(q, 0, "inbox").seq == 1
    assert s.first_after(q, 1, "inbox").seq == 3
    assert s.first_after(q, 1, "spam").seq == 2
    assert s.first_after(q, 1, "any").seq == 2
    assert s.first_after(q, 3, "any") is None
    assert s.first_after(parse("subject:3"), 0, "inbox").seq == 3


def test_waiter_woken_by_delivery_and_not_by_other_recipients() -> None:
    async def scenario() -> None:
        s = Store()
        s.add(make("a@x.com", "before"))
        fut = s.wait(parse("to:a@x.com"), after=1, folder="inbox")
        other = s.wait(parse("subject:nomatch"), after=0, folder="any")
        assert not fut.done()
        assert s.waiter_count == 2
        s.add(make("b@x.com", "someone else"))
        assert not fut.done()
        s.add(make("a@x.com", "spammy", folder="spam"))
        assert not fut.done()
        s.add(make("A@X.com", "mine"))
        assert fut.done() and fut.result().summary.subject == "mine"
        other.cancel()
        await asyncio.sleep(0)
        assert s.waiter_count == 0

    asyncio.run(scenario())


def test_wait_returns_immediately_when_already_stored_after_seq() -> None:
    """No message is lost between a search and a wait: after= covers the gap."""

    async def scenario() -> None:
        s = Store()
        s.add(make("a@x.com", "1"))
        seen = s.latest().seq
        s.add(make("a@x.com", "2"))  # arrives between the client's search and its wait
        fut = s.wait(parse("to:a@x.com"), after=seen, folder="inbox")
        assert fut.done() and fut.result().summary.subject == "2"

    asyncio.run(scenario())


def test_thousands_of_waiters_each_woken_once() -> None:
    async def scenario() -> None:
        s = Store()
        futs = [s.wait(parse(f"to:u{i}@x.com"), 0, "inbox") for i in range(3000)]
        futs_any = [s.wait(parse("subject:broadcast"), 0, "any") for _ in range(100)]
        for i in range(0, 3000, 2):
            s.add(make(f"u{i}@x.com", f"m{i}"))
        assert sum(f.done() for f in futs) == 1500
        assert all(futs[i].result().summary.subject == f"m{i}" for i in range(0, 3000, 2))
        assert not any(f.done() for f in futs_any)
        s.add(make("z@x.com", "broadcast"))
        assert all(f.done() for f in futs_any)
        s.cancel_waiters()
        await asyncio.sleep(0)
        assert s.waiter_count == 0

    asyncio.run(scenario())


def test_add_with_lower_seq_is_refused() -> None:
    s = Store()
    s.add(make("a@x.com"), seq=10)
    with pytest.raises(ValueError):
        s.add(make("a@x.com", "x"), seq=5)
    assert s.add(make("a@x.com", "y")) == [] and s.last_seq == 11


def test_folder_pages_and_counters() -> None:
    s = Store()
    for i in range(6):
        s.add(make(f"f{i}@x.com", f"s{i}", folder="spam" if i % 3 == 0 else "inbox"))
    total, unread, items = s.page(None, 0, 2, "spam")
    assert (total, unread, [m.summary.subject for m in items]) == (2, 2, ["s3", "s0"])
    s.set_read(items[:1], True)
    assert s.page(None, 0, 2, "spam")[:2] == (2, 1)
    assert s.page(None, 0, 10, "inbox")[:2] == (4, 4)
    total, unread, items = s.page(parse("subject:s"), 1, 2, "inbox")
    assert (total, unread, [m.summary.subject for m in items]) == (4, 4, ["s4", "s2"])
    s.delete([items[0].id])
    assert s.page(None, 0, 10, "inbox")[:2] == (3, 3)
    assert s.page(None, 0, 10)[:2] == (5, 4)


def test_plain_address_fast_path_agrees_with_aiosmtpd() -> None:
    """InboxSMTP._getaddr answers plain <local@domain> itself: same result as aiosmtpd's parser."""
    from aiosmtpd.smtp import SMTP

    from mfa_harness.fake_smtp.smtp_handler import PLAIN_ANGLE_ADDR, InboxHandler, InboxSMTP

    args = ["<a@b.example>", "<team-7@agency.example> SIZE=3000 BODY=8BITMIME", "<A.B+tag@x-y.example>",
            "<o'neil@example.com>", "<a..b@x>", "<.a@x>", "<a.@x>", "<a@x..y>", "<a@-x>", "<>", "<a b@x>",
            "<\"q s\"@x>", "<a@[127.0.0.1]>", " <a@x>", "<a@x>SIZE=1", "a@x", "<a@x", "<a@x> ", "<@r:a@x>",
            "<" + "l" * 70 + "@x.example>", "<" + "l" * 64 + "@x.example>", "<a@x>\u00e9", "<é@x>",
            "<a@x>\tSIZE=1", "<a@x> (comment) SIZE=1", "<a@x>(c)", "<a@x>  \t ", "<a@x>\r\n"]
    for limit in (64, 0):
        fast = InboxSMTP(InboxHandler(None))  # type: ignore[arg-type]
        slow = SMTP(InboxHandler(None))  # type: ignore[arg-type]
        fast.local_part_limit = slow.local_part_limit = limit
        for arg in args:
            assert fast._getaddr(arg) == slow._getaddr(arg), (arg, limit)
    assert PLAIN_ANGLE_ADDR.match("<team-7@agency.example>") and not PLAIN_ANGLE_ADDR.match("<a..b@x>")
