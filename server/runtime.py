"""Process wiring: prepare the database, bind sockets, fork workers, run, stop on SIGTERM.

The parent prepares the shared state (schema, secrets, seeded accounts) and binds the
listening socket before forking, so every worker accepts on the same port. Workers die with
the parent (PR_SET_PDEATHSIG), so a `kill -9` of the printed pid frees the port.
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
import time

import tornado.httpserver
import tornado.netutil
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
                     store: Store | None, ready_fd: int | None) -> int:
    """One serving process: HTTP server + outbox sender until SIGTERM/SIGINT."""
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
    if ready_fd is not None:
        try:
            os.write(ready_fd, b"r")
        except OSError:
            log.info("supervisor no longer waits for readiness (restarted worker)")
        os.close(ready_fd)
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


def supervise(args: argparse.Namespace, policy: Policy, bugs: frozenset[str], db: str,
              sockets: list[socket.socket], epoch: float) -> int:
    """Fork `--processes` workers, announce when all are ready, restart crashed ones, stop on TERM."""
    children: dict[int, int] = {}
    stopping = False

    def spawn(slot: int) -> tuple[int, int]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _die_with_parent()
            if os.getppid() == 1:
                os._exit(0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = asyncio.run(run_worker(args, policy, bugs, db, sockets, epoch,
                                              Passwords(args.password_profile, policy=policy), None, w))
            except BaseException:
                logging.getLogger("portal").exception("worker failed")
            finally:
                os._exit(code)
        os.close(w)
        children[pid] = slot
        return pid, r

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pipes = [spawn(slot)[1] for slot in range(args.processes)]
    deadline = time.monotonic() + 120
    failed = False
    while pipes and time.monotonic() < deadline and not stopping and not failed:
        readable, _, _ = select.select(pipes, [], [], 1.0)
        for fd in readable:
            failed = failed or os.read(fd, 1) != b"r"  # EOF: the worker died before it was ready
            os.close(fd)
            pipes.remove(fd)
    if (pipes or failed) and not stopping:
        say_error("portal workers did not become ready (see the log above)")
        on_signal(signal.SIGTERM, None)
        for pid in list(children):
            os.waitpid(pid, 0)
        return 1
    if not stopping:
        announce(sockets)
    restarts = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        if restarts < 100:
            restarts += 1
            log.warning("worker %d exited (status %d); restarting", pid, status)
            _, r = spawn(slot)
            os.close(r)
    return 0
