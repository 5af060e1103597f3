"""Maildir durability: held mail survives kill -9, and one bad file never stops a restart."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

from fake_smtp_helpers import InboxProcess
from mime_samples import nested_multiparts

from mfa_harness.fake_smtp.maildir import META


def kill9(p: InboxProcess) -> None:
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait(30)


def test_held_mail_survives_kill_9(tmp_path: Path, inbox_factory: Callable[..., InboxProcess]) -> None:
    md = str(tmp_path / "mail")
    args = ("--maildir", md, "--time-scale", "5")   # the 30 s delay is 6 wall seconds
    p = inbox_factory(*args)
    p.put_faults([{"kind": "delay", "distribution": "fixed", "seconds": 30, "to": "late@*"}])
    with p.smtp() as s:
        for i in range(20):
            s.sendmail("p@example.org", ["now@example.com"], f"Subject: now {i}\r\n\r\ncode: 1{i:05d}\r\n".encode())
        for i in range(30):
            s.sendmail("p@example.org", ["late@example.com"], f"Subject: late {i}\r\n\r\ncode: 2{i:05d}\r\n".encode())
    assert p.get_json("/api/v1/info")["Pending"] == 30     # all 30 acknowledged and still held
    kill9(p)

    q = inbox_factory(*args)                                # no fault plan now: only the held mail is late
    assert q.get_json("/api/v1/info")["Pending"] == 30
    last = q.wait("to:late@example.com", after=49, timeout=60)  # Seq 50: every message is visible
    assert last.status == 200, "held mail was lost"
    subjects = [m["Subject"] for m in q.get_json("/api/v1/messages?limit=100")["messages"]]
    assert sorted(subjects) == sorted([f"now {i}" for i in range(20)] + [f"late {i}" for i in range(30)])
    assert q.get_json("/api/v1/info")["Pending"] == 0
    assert os.listdir(os.path.join(md, ".Pending", "new")) == []  # each file went once it was visible


def test_restart_quarantines_what_it_cannot_load(tmp_path: Path, inbox_factory: Callable[..., InboxProcess]) -> None:
    md = tmp_path / "mail"
    p = inbox_factory("--maildir", str(md))
    p.send("keep@example.com", subject="keep me")
    with p.smtp() as s:
        s.sendmail("a@x.example", ["deep@y.example"], nested_multiparts(1000))
    assert p.stop() == 0
    (md / "new" / "1.bad-seq.host").write_bytes(META + b'{"seq": "x"}\r\nSubject: bad meta\r\n\r\nx\r\n')
    (md / "new" / "2.bad-json.host").write_bytes(META + b'{"seq": 9\r\nSubject: bad json\r\n\r\nx\r\n')
    (md / "cur" / "3.a-directory.host:2,S").mkdir()
    (md / ".Pending" / "new" / "4.bad-pending.host").write_bytes(META + b'{"recipients": "x"}\r\n\r\nx\r\n')
    keep = next(iter(os.listdir(md / "new")))
    (md / "new" / "5.copy.host").write_bytes((md / "new" / keep).read_bytes())  # same ID twice

    q = inbox_factory("--maildir", str(md))                 # starts normally
    subjects = sorted(m["Subject"] for m in q.get_json("/api/v1/messages")["messages"])
    assert subjects == ["deep", "keep me"]                   # the deep message is loaded, unparsed
    deep = q.get_json("/api/v1/search?query=subject:deep")["messages"][0]
    assert "nested deeper" in q.get_json(f"/api/v1/message/{deep['ID']}")["Note"]
    quarantined = sorted(os.listdir(md / ".Quarantine" / "new"))
    assert quarantined == ["1.bad-seq.host", "2.bad-json.host", "3.a-directory.host:2,S", "4.bad-pending.host",
                           "5.copy.host"]
    assert q.stop() == 0
    assert q.proc.stderr is not None
    err = q.proc.stderr.read().decode()
    assert "5 Maildir files could not be loaded" in err and "Traceback" not in err
    assert "'seq' has the wrong type" in err and "not valid JSON" in err
    r = inbox_factory("--maildir", str(md))                  # the quarantine is not loaded again
    assert r.get_json("/api/v1/messages")["total"] == 2
    assert json.loads(r.get("/api/v1/info").body)["Pending"] == 0


def test_reorder_held_mail_is_on_disk_until_released(tmp_path: Path,
                                                     inbox_factory: Callable[..., InboxProcess]) -> None:
    md = tmp_path / "mail"
    p = inbox_factory("--maildir", str(md), "--time-scale", "10")
    p.put_faults([{"kind": "delay", "distribution": "fixed", "seconds": 5, "to": "both@*"},
                  {"kind": "reorder", "window": 30}])           # 3 wall seconds
    p.send("both@example.com", subject="delayed then reordered")
    p.send("only@example.com", subject="reordered")
    assert len(os.listdir(md / ".Pending" / "new")) == 2       # written before the 250
    assert p.wait("to:both@example.com", timeout=60).status == 200
    assert p.wait("to:only@example.com", timeout=60).status == 200
    assert os.listdir(md / ".Pending" / "new") == []
    assert len(os.listdir(md / "new")) == 2
