"""Issue 13's inbox figures, reproduced: ``python -m bench.inbox_hardening kill9|rss [--repo DIR]``.

``kill9``: N messages acknowledged with 250 (with a 30 s delay fault, then without faults),
kill -9 of the inbox, restart on the same Maildir: how many are lost.
``rss``: the inbox's RSS before and after 10 messages with 10,000 RCPT each.

``--repo`` runs the inbox of another checkout (e.g. main) for a before/after comparison.
Not part of the ``python -m bench`` suite: these are one-off reproductions, not ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from typing import Any

from mfa_harness.harness_http import InboxApi

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Inbox:
    """A ``python -m mfa_harness.fake_smtp`` child on OS-chosen ports, started in ``repo``."""

    def __init__(self, repo: str, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0",
                                      *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline())
        self.url, self.smtp_port = ready["url"], ready["smtp_port"]
        self.api = InboxApi(self.url, timeout=120)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def _acknowledged(inbox: Inbox, n: int, to: str) -> int:
    acked = 0
    with smtplib.SMTP("127.0.0.1", inbox.smtp_port, timeout=60) as s:
        for i in range(n):
            s.sendmail("p@example.org", [to], f"Subject: m{i}\r\n\r\ncode: {i:06d}\r\n".encode())
            acked += 1
    return acked


def kill9_lost(repo: str, n: int, delay: float | None) -> dict[str, Any]:
    """Send ``n`` messages (held ``delay`` scenario seconds if given), kill -9, restart: how many are lost."""
    md = tempfile.mkdtemp(prefix="inbox-kill9-")
    try:
        inbox = Inbox(repo, "--maildir", md)
        if delay is not None:
            inbox.api.set_faults([{"kind": "delay", "distribution": "fixed", "seconds": delay}])
        acked = _acknowledged(inbox, n, "victim@example.com")
        pending = inbox.api.info()["Pending"]
        inbox.kill9()
        again = Inbox(repo, "--maildir", md)
        deadline = time.monotonic() + (delay or 0) + 60
        held = again.api.info()["Pending"]
        while held and time.monotonic() < deadline:   # held mail comes out when its delay ends
            again.api.wait("to:nobody@example.com", timeout=min(5.0, (delay or 1)))
            held = again.api.info()["Pending"]
        visible = again.api.messages(limit=1)["total"]
        again.stop()
        return {"acknowledged": acked, "held_at_kill": pending, "visible_after_restart": visible,
                "lost": acked - visible}
    finally:
        shutil.rmtree(md, ignore_errors=True)


def rss_many_rcpt(repo: str, messages: int = 10, rcpts: int = 10_000) -> dict[str, Any]:
    """RSS of the inbox before and after ``messages`` messages with ``rcpts`` RCPT each."""
    inbox = Inbox(repo)
    try:
        before = inbox.rss_kib()
        refused_total = 0
        with smtplib.SMTP("127.0.0.1", inbox.smtp_port, timeout=300) as s:
            for m in range(messages):
                to = [f"u{m}.{i}@example.com" for i in range(rcpts)]
                refused = s.sendmail("p@example.org", to, f"Subject: many {m}\r\nTo: {to[0]}\r\n\r\nx\r\n".encode())
                refused_total += len(refused)
        after = inbox.rss_kib()
        return {"rss_before_kib": before, "rss_after_kib": after, "added_mib": round((after - before) / 1024, 1),
                "rcpt_refused": refused_total, "stored": inbox.api.messages(limit=1)["total"]}
    finally:
        inbox.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inbox_hardening")
    p.add_argument("what", choices=("kill9", "rss"))
    p.add_argument("--repo", default=REPO, help="checkout whose inbox runs (default: this one)")
    p.add_argument("-n", type=int, default=1000, help="messages for kill9 (default 1000)")
    args = p.parse_args(argv)
    if args.what == "kill9":
        print("30 s delay fault:", json.dumps(kill9_lost(args.repo, args.n, 30.0)))
        print("no faults:       ", json.dumps(kill9_lost(args.repo, args.n, None)))
    else:
        print("10 x 10,000 RCPT:", json.dumps(rss_many_rcpt(args.repo)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
