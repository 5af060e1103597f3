"""Memory bounds: a recipient cap per message (452 past it) and a byte budget for retention."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_smtp_helpers import REPO, InboxProcess

from mfa_harness.fake_smtp.mime import summarize
from mfa_harness.fake_smtp.store import Store, StoredMessage


def test_recipients_past_the_cap_get_452(inbox_factory: Callable[..., InboxProcess]) -> None:
    p = inbox_factory("--max-recipients", "3")
    rcpts = [f"r{i}@example.com" for i in range(5)]
    with p.smtp() as s:
        refused = s.sendmail("p@example.org", rcpts, b"Subject: capped\r\n\r\ncode: 333444\r\n")
    assert sorted(refused) == rcpts[3:]
    assert all(code == 452 and b"4.5.3 Too many recipients" in text for code, text in refused.values())
    stored = p.get_json("/api/v1/message/latest")
    assert stored["Recipients"] == rcpts[:3] and stored["Code"] == "333444"
    with p.smtp() as s:                    # a new transaction gets a fresh count
        assert s.sendmail("p@example.org", rcpts[3:], b"Subject: rest\r\n\r\nx\r\n") == {}


def test_default_cap_is_100(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    rcpts = [addr(f"cap{i}") for i in range(101)]
    with inbox.smtp() as s:
        refused = s.sendmail("p@example.org", rcpts, b"Subject: hundred\r\n\r\nx\r\n")
    assert list(refused) == [rcpts[100]] and refused[rcpts[100]][0] == 452


def _msg(i: int, size: int) -> StoredMessage:
    raw = b"Subject: m%d\r\n\r\n" % i
    raw += b"x" * (size - len(raw))
    return StoredMessage(id=f"ID{i}", raw=raw, mail_from="", recipients=("a@example.com",),
                         summary=summarize(raw), code=None, folder="inbox", received=1.0, delivered=1.0)


def test_store_byte_budget_prunes_oldest_first() -> None:
    store = Store(max_messages=0, max_bytes=3000)
    pruned = []
    for i in range(5):
        pruned += store.add(_msg(i, 1000))
    assert [m.id for m in pruned] == ["ID0", "ID1"]
    assert len(store) == 3 and store.total_bytes == 3000
    store.delete(["ID3"])
    assert store.total_bytes == 2000
    store.delete_all()
    assert store.total_bytes == 0


def test_byte_budget_end_to_end(inbox_factory: Callable[..., InboxProcess], tmp_path: Path) -> None:
    md = tmp_path / "m"
    p = inbox_factory("--max-bytes", "3k", "--maildir", str(md))
    body = "y" * 800 + "\r\n"    # about 1,000 bytes with the headers
    for i in range(5):
        p.send("bytes@example.com", subject=f"b{i}", body=body)
    data = p.get_json("/api/v1/messages")
    assert [m["Subject"] for m in data["messages"]] == ["b4", "b3", "b2"]
    assert sum(m["Size"] for m in data["messages"]) <= 3 * 1024
    assert len(os.listdir(md / "new")) == 3
    with p.smtp() as s, pytest.raises(smtplib.SMTPResponseException) as err:
        s.sendmail("p@example.org", ["bytes@example.com"], b"Subject: huge\r\n\r\n" + b"z" * 4000)
    assert err.value.smtp_code == 552       # bigger than the whole budget: refused (SIZE), not accepted and lost


@pytest.mark.parametrize(("args", "fragment"), [
    (["--max-bytes", "lots"], "invalid size"),
    (["--max-recipients", "-1"], "must be >= 0"),
])
def test_bad_limit_options_one_line_exit_2(args: list[str], fragment: str) -> None:
    r = subprocess.run([sys.executable, "-m", "mfa_harness.fake_smtp", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and fragment in r.stderr, r.stderr
