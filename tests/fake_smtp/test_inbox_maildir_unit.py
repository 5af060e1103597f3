"""Unit tests of Maildir persistence: the on-disk format and files written by other tools."""

from __future__ import annotations

import os
from pathlib import Path

from mfa_harness.fake_smtp.app import Config, build_inbox
from mfa_harness.fake_smtp.maildir import META, Maildir
from mfa_harness.fake_smtp.mime import headers


def test_save_writes_a_real_maildir_file(tmp_path: Path) -> None:
    md = Maildir(str(tmp_path))
    path = md.save(b"Subject: hi\r\n\r\nbody\r\n", {"seq": 7, "id": "X"}, "inbox")
    assert os.path.dirname(path) == str(tmp_path / "new")
    assert os.listdir(tmp_path / "tmp") == []
    data = Path(path).read_bytes()
    assert data.startswith(META) and data.endswith(b"Subject: hi\r\n\r\nbody\r\n")
    read_path = md.set_read(path, "inbox", True)
    assert os.path.dirname(read_path) == str(tmp_path / "cur") and read_path.endswith(":2,S")
    assert md.set_read(read_path, "inbox", False) == path
    loaded = list(md.load())
    assert len(loaded) == 1 and loaded[0].raw == b"Subject: hi\r\n\r\nbody\r\n"
    assert loaded[0].meta["seq"] == 7 and loaded[0].read is False
    md.delete(path)
    md.delete(path)  # deleting twice is harmless
    assert list(md.load()) == []


def test_foreign_maildir_files_are_loaded_with_new_seqs(tmp_path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "cur" / "1700000000.foreign.host:2,S").write_bytes(
        b"From: a@b.c\r\nTo: Someone <someone@example.com>\r\nSubject: from mutt\r\n\r\ncode: 424242\r\n")
    inbox = build_inbox(Config(maildir=str(tmp_path)))
    own = inbox.maildir.save(b"To: x@y.z\r\nSubject: ours\r\n\r\nhello\r\n",
                             {"seq": 5, "id": "OURS", "recipients": ["x@y.z"], "received": 1.0,
                              "delivered": 2.0, "folder": "inbox", "code": None}, "inbox")
    assert inbox.reload() == 2
    ours = inbox.store.get("OURS")
    assert ours is not None and ours.seq == 5 and ours.path == own
    foreign = inbox.store.latest()
    assert foreign is not None and foreign.seq == 6 and foreign.read is True
    assert foreign.code == "424242" and foreign.recipients == ("someone@example.com",)


def test_headers_are_unfolded() -> None:
    h = headers(b"Subject: a long\r\n  folded subject\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody")
    assert h["Subject"] == ["a long folded subject"] and h["X-A"] == ["1", "2"]
