"""`--processes N`: a killed worker is replaced, SIGTERM stops every worker before the supervisor
exits, and `kill -9` of the supervisor (the ready line's pid) takes the workers and the port with it."""

from __future__ import annotations

import os
import select
import signal
import socket
from urllib.parse import urlsplit

from portal_testkit import Browser


def worker_pids(portal) -> set[int]:
    return {e["pid"] for e in portal.events() if e["event"] == "portal_started"}


def exit_watchers(pids: set[int]) -> dict[int, int]:
    """A pidfd per process: readable once it has exited (an event to wait for, not a poll)."""
    return {pid: os.pidfd_open(pid) for pid in pids}


def exited(watchers: dict[int, int], timeout: float) -> set[int]:
    """The processes of `watchers` that exit within `timeout` seconds."""
    done: set[int] = set()
    fds = {fd: pid for pid, fd in watchers.items()}
    while len(done) < len(fds):
        readable, _, _ = select.select([fd for fd, pid in fds.items() if pid not in done], [], [], timeout)
        if not readable:
            break
        done |= {fds[fd] for fd in readable}
    return done


def close_all(watchers: dict[int, int]) -> None:
    for fd in watchers.values():
        os.close(fd)


def test_a_killed_worker_is_replaced_and_sigterm_stops_every_worker_first(sink, portal_factory):
    portal = portal_factory(sink.port, "--processes", "2")
    first = worker_pids(portal)
    assert len(first) == 2 and portal.pid not in first
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    started = portal.wait_event(lambda e: e["event"] == "portal_started" and e["pid"] not in first, timeout=60)
    workers = first - {victim} | {started["pid"]}
    acct = portal.accounts("agency")[0]
    for _ in range(4):  # whichever worker answers
        assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303
    watchers = exit_watchers(workers)
    try:
        assert portal.stop() == 0
        assert exited(watchers, timeout=0) == workers  # the supervisor waited for them
    finally:
        close_all(watchers)


def test_kill9_of_the_supervisor_ends_the_workers_and_frees_the_port(sink, portal_factory):
    portal = portal_factory(sink.port, "--processes", "2")
    workers = worker_pids(portal)
    watchers = exit_watchers(workers)
    try:
        portal.kill9()
        assert exited(watchers, timeout=60) == workers
    finally:
        close_all(watchers)
    url = urlsplit(portal.url)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the portal binds, so a restart can
        s.bind((url.hostname, url.port))
