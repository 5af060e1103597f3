"""Process assembly: store, fault engine, inbox, SMTP server and Tornado app on one loop.

``serve`` binds both listeners (port 0 lets the OS choose), prints the ready JSON line,
and runs until SIGTERM/SIGINT, then closes the listeners, ends long-polls and returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import IO

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from mfa_harness.fake_smtp.api import ROUTES, NotFoundHandler
from mfa_harness.fake_smtp.api_base import ApiContext
from mfa_harness.fake_smtp.api_mailpit import COMPAT_ROUTES
from mfa_harness.fake_smtp.codes import CodeExtractor
from mfa_harness.fake_smtp.fault_engine import FaultEngine
from mfa_harness.fake_smtp.faults import Plan
from mfa_harness.fake_smtp.history import DeliveryLog
from mfa_harness.fake_smtp.inbox import Inbox
from mfa_harness.fake_smtp.maildir import QUARANTINE_DIR, Maildir
from mfa_harness.fake_smtp.smtp_handler import InboxHandler, InboxSMTP
from mfa_harness.fake_smtp.store import Store
from mfa_harness.fake_smtp.web import WebHandler
from mfa_harness.timebase import Timebase

log = logging.getLogger("fake_smtp")


@dataclass
class Config:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    http_host: str = "127.0.0.1"
    http_port: int = 8025
    time_scale: float = 1.0
    epoch: float = 0.0
    plan: Plan | None = None
    seed: int | None = None
    max_messages: int = 100_000
    max_age: float = 0.0
    max_bytes: int = 1024**3
    max_message_size: int = 10 * 1024 * 1024
    max_recipients: int = 100
    maildir: str | None = None
    code_regex: str | None = None
    history_file: str | None = None
    max_history: int = 500_000


def build_inbox(cfg: Config, history_file: IO[str] | None = None) -> Inbox:
    """Everything but the listeners (also used by in-process tests)."""
    clock = Timebase(epoch=cfg.epoch or time.time(), scale=cfg.time_scale)
    store = Store(cfg.max_messages, cfg.max_age, cfg.max_bytes)
    engine = FaultEngine(cfg.plan, seed=cfg.seed)
    history = DeliveryLog(clock, cfg.max_history, history_file)
    maildir = Maildir(cfg.maildir) if cfg.maildir else None
    return Inbox(clock, store, engine, history, CodeExtractor(cfg.code_regex), maildir)


def make_app(ctx: ApiContext) -> tornado.web.Application:
    routes: list[tuple[str, type[tornado.web.RequestHandler]]] = [(r"/", WebHandler), *ROUTES, *COMPAT_ROUTES]
    return tornado.web.Application(routes, ctx=ctx, compress_response=False,  # type: ignore[arg-type]
                                   default_handler_class=NotFoundHandler)


class BindError(OSError):
    """A listener could not be bound (port in use, bad host): `listener` (smtp, http), `host`, `port`."""

    def __init__(self, message: str, *, listener: str, host: str, port: int):
        super().__init__(message)
        self.listener, self.host, self.port = listener, host, port


def _why(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


HISTORY_IN_MAILDIR = "fake_smtp-history.jsonl"


def history_path(cfg: Config) -> str | None:
    """``--history-file``, or with ``--maildir`` a file inside it (so seq_event survives restarts)."""
    if cfg.history_file:
        return cfg.history_file
    if cfg.maildir:
        return os.path.join(cfg.maildir, HISTORY_IN_MAILDIR)
    return None


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


async def serve(cfg: Config, ready_out: IO[str] = sys.stdout) -> None:
    """Run the inbox until SIGTERM/SIGINT."""
    path = history_path(cfg)
    previous: list[str] = []
    if path is not None:
        if cfg.maildir:
            os.makedirs(cfg.maildir, exist_ok=True)
        previous = _read_lines(path)
    history_file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
    try:
        await _serve(cfg, ready_out, history_file, previous)
    finally:
        if history_file is not None:
            history_file.close()


def _restored_inbox(cfg: Config, history_file: IO[str] | None, previous: list[str]) -> Inbox:
    """The inbox with the previous run's history lines and its Maildir messages reloaded."""
    inbox = build_inbox(cfg, history_file)
    inbox.history.preload(previous)
    reloaded = inbox.reload()
    held = inbox.reload_pending()
    if reloaded or held:
        log.info("reloaded %d messages (%d still held) from %s (last Seq %d)", reloaded, held, cfg.maildir,
                 inbox.store.last_seq)
    if inbox.quarantined:
        log.warning("%d Maildir files could not be loaded; moved to %s (the inbox started without them)",
                    len(inbox.quarantined), os.path.join(cfg.maildir or "", QUARANTINE_DIR))
    return inbox


async def _serve(cfg: Config, ready_out: IO[str], history_file: IO[str] | None, previous: list[str]) -> None:
    loop = asyncio.get_running_loop()
    inbox = _restored_inbox(cfg, history_file, previous)
    handler = InboxHandler(inbox, cfg.max_recipients)
    # a message bigger than the whole retention budget could never be kept: refuse it with 552
    size_limit = min(cfg.max_message_size, cfg.max_bytes) if cfg.max_bytes else cfg.max_message_size
    try:
        smtp_server = await loop.create_server(
            InboxSMTP.factory(handler, data_size_limit=size_limit, enable_SMTPUTF8=True, decode_data=False,
                              hostname="fake-smtp.localhost", ident="fake_smtp ESMTP", loop=loop),
            cfg.smtp_host, cfg.smtp_port, family=socket.AF_INET, reuse_address=True)
    except OSError as exc:
        raise BindError(f"cannot listen for SMTP on {cfg.smtp_host}:{cfg.smtp_port}: {_why(exc)}",
                        listener="smtp", host=cfg.smtp_host, port=cfg.smtp_port) from exc
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    try:
        sockets = tornado.netutil.bind_sockets(cfg.http_port, cfg.http_host, family=socket.AF_INET)
    except OSError as exc:
        smtp_server.close()
        raise BindError(f"cannot listen for HTTP on {cfg.http_host}:{cfg.http_port}: {_why(exc)}",
                        listener="http", host=cfg.http_host, port=cfg.http_port) from exc
    http_port = sockets[0].getsockname()[1]
    ctx = ApiContext(inbox, cfg.smtp_host, smtp_port, time.time(), cfg.http_host)
    http_server = tornado.httpserver.HTTPServer(make_app(ctx), idle_connection_timeout=3600)
    http_server.add_sockets(sockets)
    ctx.ready = True

    sweeper = None
    if cfg.max_age > 0:   # retention holds while no mail arrives: sweep a few times per max-age
        sweeper = tornado.ioloop.PeriodicCallback(inbox.expire, 1000 * min(60.0, max(0.5, cfg.max_age / 4)))
        sweeper.start()

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready_out.write(json.dumps({"ready": "inbox", "smtp_host": cfg.smtp_host, "smtp_port": smtp_port,
                                "url": f"http://{cfg.http_host}:{http_port}", "pid": os.getpid()}) + "\n")
    ready_out.flush()
    log.info("inbox ready: SMTP %s:%d, HTTP %s:%d, time scale %g", cfg.smtp_host, smtp_port, cfg.http_host,
             http_port, cfg.time_scale)
    await stop.wait()
    log.info("stopping")
    if sweeper is not None:
        sweeper.stop()
    ctx.ready = False
    smtp_server.close()
    http_server.stop()
    held = inbox.cancel_pending()
    if held:
        where = f"kept in {cfg.maildir}/.Pending" if cfg.maildir else "lost (no --maildir)"
        log.warning("%d accepted messages were still held by delay/reorder faults at shutdown: %s", len(held), where)
    inbox.store.cancel_waiters()
    if ctx.active_waits:  # let every long-poll answer 503 before the connections close
        await asyncio.wait(list(ctx.active_waits), timeout=10)
    await http_server.close_all_connections()
