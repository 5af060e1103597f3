"""Process wiring: prepare the database, bind sockets, fork workers, run, stop on SIGTERM.

The parent prepares the shared state (schema, secrets, seeded accounts) and binds the
listening socket before forking (`tornado.process.fork_processes`), so every worker accepts on
the same port. Workers die with the parent (PR_SET_PDEATHSIG), so a `kill -9` of the printed
pid frees the port; a SIGTERM stops them gracefully first (`supervise`).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import secrets
import select
import signal
import socket
import sys
import threading
import time
from typing import NoReturn

import tornado.httpserver
import tornado.netutil
import tornado.process
from argon2.exceptions import HashingError

from .app import make_app
from .cli import say_error
from .clock import ScenarioClock
from .hosts import host_rule, listening_url
from .outbox import Outbox
from .passwords import Passwords, argon2_parameters, describe
from .policy import Policy
from .portal import Portal
from .seeding import seed_accounts
from .storage import Store

log = logging.getLogger("portal")
MAX_BODY = 4 * 1024 * 1024  # hard cap in Tornado; the handlers answer 413 far below it


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        log.warning("cannot set PR_SET_PDEATHSIG; workers may outlive a killed parent")


def prepare_store(path: str, args: argparse.Namespace, passwords: Passwords) -> tuple[Store, str, bytes]:
    store = Store(path)
    cookie_secret = store.meta_get_or_set("cookie_secret", secrets.token_hex(32))
    code_key = bytes.fromhex(store.meta_get_or_set("code_key", secrets.token_hex(32)))
    if not args.harness:
        store.forget_plaintext_passwords()
    count = seed_accounts(store, passwords, args.partners, args.seed, args.mix, keep_plaintext=args.harness,
                          source=args.seed_source)
    log.info("database %s ready with %d accounts", path, count)
    return store, cookie_secret, code_key


async def run_worker(args: argparse.Namespace, policy: Policy, bugs: frozenset[str], db: str,
                     sockets: list[socket.socket], epoch: float, passwords: Passwords,
                     store: Store | None, link: SupervisorLink | None) -> int:
    """One serving process: HTTP server + outbox sender until SIGTERM/SIGINT (or its supervisor stops)."""
    if store is None:
        store = Store(db)
    clock = ScenarioClock(epoch, args.time_scale, store.clock_offset)
    store.attach_clock(clock)
    cookie_secret = store.meta_get_or_set("cookie_secret", secrets.token_hex(32))
    no_keep_alive = False
    if "per-process-secret" in bugs:
        # The planted bug: this process signs with its own secret. Connections are closed after
        # each response, as a load balancer spreading requests over the processes would, so a
        # client's next request may reach a process that rejects its cookie.
        cookie_secret = secrets.token_hex(32)
        no_keep_alive = True
    code_key = bytes.fromhex(store.meta_get_or_set("code_key", secrets.token_hex(32)))
    outbox = Outbox(store, clock, policy, args.smtp_host, args.smtp_port, bugs)
    portal = Portal(store, clock, policy, passwords, outbox, bugs, code_key, args.harness, args.public_url)
    app = make_app(portal, cookie_secret, args.harness, args.hosts)
    server = tornado.httpserver.HTTPServer(app, max_body_size=MAX_BODY, xheaders=False, no_keep_alive=no_keep_alive)
    server.add_sockets(sockets)
    with store.tx():
        store.event("portal_started", pid=os.getpid(), bugs=sorted(bugs), policy=policy.as_dict(),
                    passwords={"profile": passwords.profile, **passwords.params})
    sender = asyncio.create_task(outbox.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if link is not None:
        link.stop_with_supervisor(loop, stop)
        link.say_ready()
    else:
        announce(sockets)
    await stop.wait()
    server.stop()
    await outbox.stop()
    sender.cancel()
    try:
        await sender
    except asyncio.CancelledError:
        pass
    await server.close_all_connections()
    store.close()
    return 0


def announce(sockets: list[socket.socket]) -> None:
    host, port = sockets[0].getsockname()[:2]
    sys.stdout.write(json.dumps({"ready": "portal", "url": listening_url(host, port), "pid": os.getpid()}) + "\n")
    sys.stdout.flush()


def serve(args: argparse.Namespace, policy: Policy, bugs: frozenset[str], db: str) -> int:
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s portal[%(process)d] %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":  # one line per request would cost more than the request under load
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
    epoch = args.epoch if args.epoch is not None else time.time()
    try:
        passwords = Passwords(args.password_profile, policy=policy)
    except (HashingError, MemoryError) as exc:  # e.g. more password memory than this machine gives
        params = describe(args.password_profile, argon2_parameters(args.password_profile, policy))
        say_error(f"cannot hash passwords with profile {params}: {exc}")
        return 2
    log.info("password profile: %s", passwords.describe())
    if bugs:
        log.warning("planted bugs enabled: %s", ", ".join(sorted(bugs)))
    try:
        store, _, _ = prepare_store(db, args, passwords)
    except Exception as exc:  # unusable database path: one clear line, exit 2
        say_error(f"cannot open database {db}: {exc}")
        return 2
    try:
        sockets = tornado.netutil.bind_sockets(args.port, address=args.host, family=socket.AF_INET
                                               if ":" not in args.host else socket.AF_UNSPEC)
    except OSError as exc:
        say_error(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", listener="http", host=args.host,
                  port=args.port)
        return 2
    host, port = sockets[0].getsockname()[:2]
    args.public_url = args.public_url or listening_url(host, port)
    args.hosts = host_rule(args.host, port, args.public_url)
    log.info("reset links point to %s; Host headers accepted: %s", args.public_url, args.hosts.describe())
    if args.processes == 1:
        return asyncio.run(run_worker(args, policy, bugs, db, sockets, epoch, passwords, store, None))
    store.close()
    passwords.pool.shutdown(wait=True)
    return supervise(args, policy, bugs, db, sockets, epoch)


class _Stop(BaseException):
    """Raised by the supervisor's SIGTERM/SIGINT handler: leaves `fork_processes`' wait loop."""


class SupervisorLink:
    """A worker's two pipes to its supervisor: `ready` (one byte when it serves) and `lifeline`
    (never written: end of file means the supervisor is stopping, or gone)."""

    def __init__(self, ready_fd: int, lifeline_fd: int) -> None:
        self.ready_fd, self.lifeline_fd = ready_fd, lifeline_fd

    def say_ready(self) -> None:
        try:
            os.write(self.ready_fd, b"r")
        except OSError:
            log.info("the supervisor is gone")
        os.close(self.ready_fd)

    def stop_with_supervisor(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        def on_lifeline() -> None:
            if not os.read(self.lifeline_fd, 1):
                loop.remove_reader(self.lifeline_fd)
                stop.set()

        loop.add_reader(self.lifeline_fd, on_lifeline)


class ReadinessWatcher(threading.Thread):
    """The supervisor's thread that prints the one ready line once every worker has said so.

    A thread because `fork_processes` keeps the supervisor's main thread in its wait loop. If the
    workers are not all ready in time, it says so and stops the supervisor (exit 1)."""

    def __init__(self, ready_fd: int, count: int, sockets: list[socket.socket], timeout: float = 120.0) -> None:
        super().__init__(name="portal-readiness", daemon=True)
        self.ready_fd, self.count, self.sockets, self.timeout = ready_fd, count, sockets, timeout
        self.stopping = threading.Event()
        self.failed = False

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        ready = 0
        while ready < self.count and not self.stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.ready_fd], [], [], 0.5)
            if readable:
                ready += len(os.read(self.ready_fd, self.count - ready))
        if self.stopping.is_set():
            return
        if ready < self.count:
            self.failed = True
            say_error("portal workers did not become ready (see the log above)")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        announce(self.sockets)


def supervise(args: argparse.Namespace, policy: Policy, bugs: frozenset[str], db: str,
              sockets: list[socket.socket], epoch: float) -> int:
    """Pre-fork `--processes` workers with `tornado.process.fork_processes`; stop them all on TERM/INT.

    Tornado forks the workers and restarts one that dies abnormally (a signal such as kill -9,
    or a non-zero exit), up to 100 times. Two things it does not do are added here:

    - readiness: its parent never returns from the wait loop, so a `ReadinessWatcher` thread
      prints the ready line once every worker serves (clients wait for that line, and its pid,
      the supervisor's, is the one to kill);
    - a graceful stop: its parent has no stop at all (a SIGTERM would kill it alone, and the
      workers would die by PR_SET_PDEATHSIG's SIGKILL mid-request, their outbox senders cut).
      The signal handler raises `_Stop` out of the wait loop, the supervisor closes the
      lifeline pipe, every worker stops as on its own SIGTERM, and the supervisor reaps them
      all before it exits 0.

    Exit 1 when the workers do not become ready or Tornado gives up restarting them.
    """
    supervisor = os.getpid()
    ready_r, ready_w = os.pipe()  # both stay open in the supervisor: a restarted worker inherits them
    lifeline_r, lifeline_w = os.pipe()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        if os.getpid() != supervisor:  # a worker signalled before it installed its own handlers
            os._exit(0)
        if not stopping:  # once stopping, a second signal changes nothing
            raise _Stop(signum)

    watcher = ReadinessWatcher(ready_r, args.processes, sockets)
    code = 0
    try:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        watcher.start()
        tornado.process.fork_processes(args.processes, max_restarts=100)
    except _Stop:
        stopping = True
        code = 1 if watcher.failed else 0
    except RuntimeError as exc:  # "Too many child restarts, giving up"
        stopping = True
        say_error(f"portal workers keep failing ({exc}; see the log above)")
        code = 1
    else:  # in a worker
        os.close(ready_r)
        os.close(lifeline_w)
        run_forked_worker(supervisor, args, policy, bugs, db, sockets, epoch, SupervisorLink(ready_w, lifeline_r))
    stopping = True
    watcher.stopping.set()
    os.close(lifeline_w)  # every worker stops on this end of file
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return code


def run_forked_worker(supervisor: int, args: argparse.Namespace, policy: Policy, bugs: frozenset[str], db: str,
                      sockets: list[socket.socket], epoch: float, link: SupervisorLink) -> NoReturn:
    """A worker's whole life after the fork; it never returns into the supervisor's code."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != supervisor:  # the supervisor died before PR_SET_PDEATHSIG took effect
        os._exit(0)
    code = 1
    try:
        code = asyncio.run(run_worker(args, policy, bugs, db, sockets, epoch,
                                      Passwords(args.password_profile, policy=policy), None, link))
    except BaseException:
        log.exception("worker failed")
    finally:
        os._exit(code)
