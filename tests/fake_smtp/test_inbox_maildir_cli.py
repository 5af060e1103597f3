"""Integration: Maildir persistence across a restart, retention options, and the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_smtp_helpers import REPO, InboxProcess, start_inbox


def all_messages(p: InboxProcess) -> list[dict[str, Any]]:
    return p.get_json("/api/v1/messages?limit=1000")["messages"]


def test_restart_with_maildir_loses_nothing(tmp_path: Path, inbox_factory: Callable[..., InboxProcess]) -> None:
    md = tmp_path / "mail"
    p = inbox_factory("--maildir", str(md), "--time-scale", "100")
    p.put_faults([{"kind": "spam", "to": "spam@*"},
                  {"kind": "delay", "distribution": "fixed", "seconds": 400, "to": "late@*"}])
    p.send("a@example.com", subject="one", body="code: 100001\r\n")
    p.send("spam@example.com", subject="two", body="code: 100002\r\n")
    p.send("a@example.com", subject="three", body="code: 100003\r\n")
    p.send("late@example.com", subject="held", body="code: 100004\r\n")
    p.send("a@example.com", subject="deleted", body="code: 100005\r\n")
    msgs = {m["Subject"]: m for m in all_messages(p)}
    assert p.request("DELETE", "/api/v1/messages", {"IDs": [msgs["deleted"]["ID"]]}).status == 200
    assert p.request("PUT", "/api/v1/messages", {"IDs": [msgs["one"]["ID"]], "Read": True}).status == 200
    raw_three = p.get(f"/api/v1/message/{msgs['three']['ID']}/raw").body
    p.get_json(f"/api/v1/message/{msgs['three']['ID']}")  # reading marks it read
    events_before = p.deliveries()
    assert p.stop() == 0

    # a real Maildir: new/ cur/ tmp/, spam in .Spam, read messages in cur/ with the S flag
    assert sorted(os.listdir(md / "tmp")) == []
    assert len(os.listdir(md / "new")) == 0
    cur = os.listdir(md / "cur")
    assert len(cur) == 2 and all(name.endswith(":2,S") for name in cur)
    assert len(os.listdir(md / ".Spam" / "new")) == 1
    assert len(os.listdir(md / ".Pending" / "new")) == 1

    q = inbox_factory("--maildir", str(md), "--time-scale", "100")
    after = {m["Subject"]: m for m in all_messages(q)}
    assert set(after) == {"one", "two", "three"}
    for subject in ("one", "two", "three"):
        for key in ("ID", "Seq", "Code", "Folder", "MessageID", "Received"):
            assert after[subject][key] == msgs[subject][key], (subject, key)
    assert after["one"]["Read"] is True and after["two"]["Read"] is False
    assert after["two"]["Folder"] == "spam"
    assert q.get(f"/api/v1/message/{after['three']['ID']}/raw").body == raw_three
    held = q.wait("to:late@example.com", after=0, timeout=60)  # the held message is delivered after the restart
    assert held.status == 200 and held.json()["Code"] == "100004"
    q.send("a@example.com", subject="four")
    newest = q.get_json("/api/v1/message/latest")
    assert newest["Seq"] > max(m["Seq"] for m in msgs.values())
    events_after = q.deliveries()
    assert events_after[: len(events_before)] == events_before
    seqs = [e["seq_event"] for e in events_after]
    assert seqs == sorted(set(seqs))


def test_retention_max_messages_prunes_oldest(inbox_factory: Callable[..., InboxProcess], tmp_path: Path) -> None:
    md = tmp_path / "m"
    p = inbox_factory("--max-messages", "3", "--maildir", str(md))
    for i in range(5):
        p.send("r@example.com", subject=f"m{i}")
    data = p.get_json("/api/v1/messages")
    assert data["total"] == 3 and [m["Subject"] for m in data["messages"]] == ["m4", "m3", "m2"]
    assert p.get_json("/api/v1/search?query=" + urllib.parse.quote("to:r@example.com"))["messages_count"] == 3
    assert len(os.listdir(md / "new")) == 3  # pruned files are removed too
    assert p.get_json("/api/v1/info")["RuntimeStats"]["MessagesDeleted"] == 2


def test_retention_max_age(inbox_factory: Callable[..., InboxProcess]) -> None:
    p = inbox_factory("--max-age", "1s")
    p.send("age@example.com", subject="old")
    # the next delivery, well over a second later, prunes the old one
    assert p.wait("to:nobody@example.com", timeout=1.5).status == 204
    p.send("age@example.com", subject="new")
    assert [m["Subject"] for m in all_messages(p)] == ["new"]


def test_retention_max_age_holds_while_no_mail_arrives(inbox_factory: Callable[..., InboxProcess],
                                                       tmp_path: Path) -> None:
    md = tmp_path / "m"
    p = inbox_factory("--max-age", "1s", "--maildir", str(md))
    p.send("idle@example.com", subject="old")
    assert p.get_json("/api/v1/messages")["total"] == 1
    for _ in range(40):                  # bounded: a sweep runs every 0.5 s here; each round waits 0.5 s
        if p.get_json("/api/v1/messages")["total"] == 0:
            break
        assert p.wait("to:nobody@example.com", timeout=0.5).status == 204
    assert p.get_json("/api/v1/messages")["total"] == 0          # no new delivery was needed to prune it
    assert os.listdir(md / "new") == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mfa_harness.fake_smtp", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--smtp-port", "70000"], "not a port number (0-65535)"),
    (["--time-scale", "0"], "must be > 0"),
    (["--time-scale", "1e308"], "must be <= 10000"),
    (["--epoch", "nan"], "--epoch: must be >= 0"),
    (["--max-age=-1h"], "duration must be >= 0"),
    (["--max-age", "5y"], "unknown unit 'y'"),
    (["--max-age", "soon"], "invalid duration"),
    (["--max-message-size", "big"], "invalid size"),
    (["--code-regex", "("], "--code-regex: invalid regular expression"),
    (["--faults", "/nonexistent/plan.toml"], "/nonexistent/plan.toml: cannot read"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_options_one_line_exit_2(args: list[str], fragment: str) -> None:
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


def test_invalid_fault_files(tmp_path: Path) -> None:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[[rules]\nkind = 'drop'\n")
    r = run_cli("--faults", str(bad_toml))
    assert r.returncode == 2 and f"{bad_toml}: invalid TOML" in r.stderr
    bad_plan = tmp_path / "plan.toml"
    bad_plan.write_text('[[rules]]\nkind = "tempfail"\nstage = "helo"\n')
    r = run_cli("--faults", str(bad_plan))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"{bad_plan}: rules[0] (tempfail): 'stage' must be one of" in r.stderr


def test_port_in_use_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flag in ("--smtp-port", "--http-port"):
            other = "--http-port" if flag == "--smtp-port" else "--smtp-port"
            r = run_cli(flag, str(port), other, "0")
            assert r.returncode == 2, r.stderr
            assert "Address already in use" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_and_answer_open_waits(sig: signal.Signals) -> None:
    p = start_inbox()
    try:
        p.send("sig@example.com")
        host, port = p.url.removeprefix("http://").split(":")
        waiter = socket.create_connection((host, int(port)), timeout=30)
        waiter.sendall(b"GET /api/v1/wait?timeout=120&query=to:nobody@example.com HTTP/1.1\r\n"
                       b"Host: %s:%s\r\n\r\n" % (host.encode(), port.encode()))
        for _ in range(600):
            if p.get_json("/api/v1/info")["Waiters"] == 1:
                break
            threading.Event().wait(0.05)
        assert p.get_json("/api/v1/info")["Waiters"] == 1
        p.proc.send_signal(sig)
        assert p.proc.wait(30) == 0
        reply = waiter.recv(65536)
        waiter.close()
        assert reply.startswith(b"HTTP/1.1 503")
        assert p.proc.stderr is not None and b"Traceback" not in p.proc.stderr.read()
    finally:
        p.stop()


def test_code_regex_history_file_epoch_and_time_scale(inbox_factory: Callable[..., InboxProcess],
                                                      tmp_path: Path) -> None:
    hist = tmp_path / "deliveries.jsonl"
    epoch = time.time() - 100.0
    p = inbox_factory("--code-regex", r"PIN (\d{4})", "--history-file", str(hist), "--epoch", repr(epoch),
                      "--time-scale", "3")
    p.send("re@example.com", body="Your PIN 4321, not code: 123456\r\n")
    m = p.get_json("/api/v1/message/latest")
    assert m["Code"] == "4321"
    lines = p.deliveries()
    for line in lines:
        assert line["st"] == pytest.approx((line["wall"] - epoch) * 3, abs=0.01)
        assert line["st"] > 299
    info = p.get_json("/api/v1/info")
    assert info["TimeScale"] == 3 and info["Epoch"] == pytest.approx(epoch)
    on_disk = [json.loads(x) for x in hist.read_text().splitlines()]
    assert on_disk == lines
