"""An inbox process that starts with N messages already delivered (``python -m bench.inbox_preloaded``).

Filling a real inbox with 100,000 messages over SMTP takes minutes, most of it MIME parsing,
which the "inbox ingest" benchmark measures anyway. This process is the real fake_smtp inbox
(its ``build_inbox``, delivery path, store, history and Tornado API), except that while
preloading, the parse of each message is replaced by a fresh copy of the summary of an
identical template message (fresh strings, dicts and lists, so memory is what parsing would
have allocated). Everything after the parse — code extraction, history lines, the store and
its indexes — runs as in production. Then it serves the HTTP API and prints the inbox ready
line; SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time

import tornado.httpserver
import tornado.netutil

from bench import emails
from mfa_harness.fake_smtp.api import ApiContext
from mfa_harness.fake_smtp.app import Config, build_inbox, make_app
from mfa_harness.fake_smtp.mime import Summary, summarize


def _fresh(s: str) -> str:
    """A new string object equal to `s` (parsing allocates one per message)."""
    return s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def copy_summary(t: Summary, message_id: str, recipient: str) -> Summary:
    """What `summarize` returns for a message that differs from template `t` only in ID and recipient."""
    return Summary(message_id=_fresh(message_id), subject=_fresh(t.subject),
                   from_={k: _fresh(v) for k, v in t.from_.items()},
                   to=[{"Name": "", "Address": _fresh(recipient)}], cc=[], bcc=[], reply_to=[],
                   date=_fresh(t.date), text=_fresh(t.text), snippet=_fresh(t.snippet),
                   attachments=t.attachments, tags=list(t.tags))


async def preload(inbox: object, count: int, recipients: int) -> None:
    """Deliver `count` messages through the inbox's own path, the parse replaced by a summary copy.

    ``emails.pool`` builds message i from template i % TEMPLATES, so the first TEMPLATES
    messages are parsed for real and later ones copy the summary of their template.
    """
    rcpts = [f"team-{i}@agency.example" for i in range(recipients)]
    messages = emails.pool(count, rcpts)
    parsed: list[Summary] = []
    current: list[tuple[int, str, str]] = []

    async def summary_of(raw: bytes) -> Summary:
        i, rcpt, mid = current[0]
        if i < emails.TEMPLATES:
            parsed.append(summarize(raw))
            return parsed[-1]
        return copy_summary(parsed[i % emails.TEMPLATES], mid, rcpt)

    inbox._summarize = summary_of  # type: ignore[attr-defined]
    try:
        for i, (rcpt, raw) in enumerate(messages):
            mid = raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
            current[:] = [(i, rcpt, mid)]
            await inbox.on_data(emails.SENDER, (rcpt,), raw)  # type: ignore[attr-defined]
    finally:
        del inbox._summarize  # type: ignore[attr-defined]


async def serve(count: int, recipients: int, max_messages: int) -> None:
    loop = asyncio.get_running_loop()
    cfg = Config(epoch=time.time(), max_messages=max_messages)
    inbox = build_inbox(cfg)
    await preload(inbox, count, recipients)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    port = sockets[0].getsockname()[1]
    ctx = ApiContext(inbox, "127.0.0.1", 0, time.time())
    server = tornado.httpserver.HTTPServer(make_app(ctx), idle_connection_timeout=3600)
    server.add_sockets(sockets)
    ctx.ready = True
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(json.dumps({"ready": "inbox", "url": f"http://127.0.0.1:{port}", "pid": os.getpid(),
                                 "messages": len(inbox.store)}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    server.stop()
    inbox.store.cancel_waiters()
    await server.close_all_connections()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inbox_preloaded")
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--max-messages", type=int, default=100_000)
    args = p.parse_args()
    asyncio.run(serve(args.messages, args.recipients, args.max_messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
