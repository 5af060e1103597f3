"""What this Locust process does in the run: one role object, picked once at `init`.

Locust splits its runners by role (`LocalRunner`, `MasterRunner`, `WorkerRunner`); the harness
does the same, and code asks its role instead of testing the runner's type:

- `LocalRole` (a standalone runner): drives users, writes the history file and the summary;
- `MasterRole` (`--master`, or the parent of `--processes N`): drives no user; checks the
  target, merges its workers' history lines into one file (`mfa_history`), and at the end asks
  every worker for its last lines and histograms (`mfa_flush`) before it writes the summary;
- `WorkerRole`: drives users and forwards its history in batches to the master; its rank among
  the workers comes from the master at test start (`mfa_config`), so each account goes to one
  worker only.

Local and master share `Coordinator` (preflight, load tracking, --abort-on-fail, the summary).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from . import accounts as accounts_mod
from . import preflight, run_end
from . import thresholds as thresholds_mod
from .history import BatchSink, FileSink, Sink
from .metrics import FlowMetrics

if TYPE_CHECKING:
    from .harness import Harness

log = logging.getLogger("loadtests")
MSG_HISTORY = "mfa_history"
MSG_FLUSH = "mfa_flush"
MSG_CONFIG = "mfa_config"
FLUSH_INTERVAL = 1.0          # wall seconds between a process's history flushes (a worker's batches)
FLUSH_GRACE = 30.0            # extra wall seconds the master waits for workers' last lines
QUIT_SEND_TIMEOUT = 10.0      # wall seconds a quitting worker tries to send its last lines
ABORT_CHECK_INTERVAL = 1.0    # wall seconds between checks of --abort-on-fail thresholds


def role_for(runner: Any) -> Role:
    """The role of the process whose Locust runner this is (the one place that looks at its type)."""
    if isinstance(runner, WorkerRunner):
        return WorkerRole(runner)
    if isinstance(runner, MasterRunner):
        return MasterRole(runner)
    return LocalRole(runner)


class Role:
    """Base: the defaults of a process that is alone with its users."""

    name = "base"
    coordinates = True            # checks the target, sets the weights and the epoch, writes the summary
    merges_history = False        # its history file gathers other processes' lines (sorted at the end)

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self._flusher: gevent.Greenlet | None = None

    # ---- facts the harness asks for -------------------------------------------------------------
    @property
    def worker_index(self) -> int:
        return 0

    @property
    def workers(self) -> int:
        return 1

    @property
    def account_slot(self) -> int:
        return 0

    def workers_expected(self, opts: Any) -> int:
        return 0

    def live_metrics(self, h: Harness) -> FlowMetrics:
        return h.metrics

    # ---- start-up ----------------------------------------------------------------------------------
    def attach(self, h: Harness) -> None:
        """Give the history its sink and register this role's messages."""
        h.history.sink = FileSink(h.opts.history_file) if h.opts.history_file else Sink()

    def check_target(self, h: Harness) -> None:
        """Before any load: refuse a target that cannot carry the run (coordinators only)."""

    # ---- the run (Locust's events) ---------------------------------------------------------------
    def test_start(self, h: Harness) -> None:
        h.start_run()

    def start_run(self, h: Harness) -> None:
        """This role's part of a test start (after the harness reset its run state)."""

    def test_stopping(self, h: Harness) -> None:
        pass

    def test_stop(self, h: Harness) -> None:
        h.stop_arrivals()

    def quitting(self, h: Harness) -> None:
        pass

    # ---- helpers for roles that drive users --------------------------------------------------------
    def start_users_side(self, h: Harness) -> None:
        """Arrivals and the history flusher, in a process whose users make the operations."""
        h.start_arrivals()
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_loop, h)

    def _flush_loop(self, h: Harness) -> None:
        """Push lines on every second until the final flush (then the greenlet ends): a worker
        sends them to the master; a single process flushes its file, so a live reader of the
        history (the runner's progress view in target mode) sees flows within a second."""
        while not h.run.flushed:
            gevent.sleep(FLUSH_INTERVAL)
            if not h.run.flushed:
                h.history.sink.flush()
        self._flusher = None


class Coordinator(Role):
    """Local and master: the process that checks the target, watches thresholds and reports."""

    def __init__(self, runner: Any) -> None:
        super().__init__(runner)
        self._watcher: gevent.Greenlet | None = None

    def check_target(self, h: Harness) -> None:
        """Refuse, before any load, a target whose inbox or portal does not answer or runs at another
        time scale; with --await-go, wait for the runner's epoch so the load begins at scenario time 0."""
        opts = h.opts
        try:
            self.before_preflight(opts)
            if h.environment.host:
                preflight.check_portal(h.environment.host, float(opts.time_scale))
            if opts.inbox_url:
                preflight.check_inbox(opts.inbox_url, float(opts.time_scale))
            if opts.await_go:
                opts.epoch = preflight.await_go()
                h.refresh_time()
        except preflight.PreflightError as exc:
            self.refused()
            run_end.fail_setup(str(exc))

    def before_preflight(self, opts: Any) -> None:
        pass

    def refused(self) -> None:
        """The target was refused: let whoever waits on this process know before it exits."""

    def start_run(self, h: Harness) -> None:
        h.load.start()
        if h.opts.abort_on_fail and any(thresholds_mod.can_abort_on(t) for t in h.thresholds):
            if self._watcher is None or self._watcher.dead:
                self._watcher = gevent.spawn(self._watch_thresholds, h)

    def _watch_thresholds(self, h: Harness) -> None:
        """--abort-on-fail: stop the run once a growing count has missed its threshold for good."""
        watched = [t for t in h.thresholds if thresholds_mod.can_abort_on(t)]
        while h.run.aborted is None and not h.run.flushed:
            gevent.sleep(ABORT_CHECK_INTERVAL)
            metrics = h.live_metrics()
            http = thresholds_mod.http_values(h.environment.stats.total)
            for t in watched:
                value = thresholds_mod.metric_value(t.metric, metrics, http)
                if thresholds_mod.missed_for_good(t, value):
                    h.run.aborted = t.expr
                    log.error("threshold missed while running: %s (value %s); stopping the test (--abort-on-fail)",
                              t.expr, value)
                    headless = bool(getattr(h.opts, "headless", False))
                    gevent.spawn(self.runner.quit if headless else self.runner.stop)
                    return

    def test_stopping(self, h: Harness) -> None:
        h.load.note_stopping()

    def test_stop(self, h: Harness) -> None:
        super().test_stop(h)
        h.history.sink.flush()
        run_end.finish(h, close=False)       # a web-UI run gets its summary when stopped, too

    def quitting(self, h: Harness) -> None:
        h.load.note_stopping()           # on SIGTERM `quitting` may come before `test_stopping`
        self.stop_users(h)
        run_end.finish(h)

    def stop_users(self, h: Harness) -> None:
        """At quit, before the summary: the users' (or the workers') last operations are in."""


class LocalRole(Coordinator):
    """A standalone runner: its own users, its own history file and summary."""

    name = "local"

    def attach(self, h: Harness) -> None:
        super().attach(h)
        if h.opts.headless and (h.environment.host or h.opts.accounts_file):
            # fail fast, before any load, when the accounts cannot be read (a master checks at test start,
            # once its workers are connected, so none is left waiting for a master that has exited)
            try:
                h.load_accounts()
            except accounts_mod.AccountsError as exc:
                run_end.fail_setup(str(exc))

    def start_run(self, h: Harness) -> None:
        super().start_run(h)
        self.start_users_side(h)

    def stop_users(self, h: Harness) -> None:
        self.runner.stop()          # on SIGTERM, Locust fires `quitting` before stopping the users


class MasterRole(Coordinator):
    """Drives no user: merges the workers' history lines and counts, and reports the run."""

    name = "master"
    merges_history = True

    def workers_expected(self, opts: Any) -> int:
        return int(getattr(opts, "expect_workers", 0) or 0)

    def live_metrics(self, h: Harness) -> FlowMetrics:
        merged = FlowMetrics()
        for data in h.run.live.values():
            merged.outcomes.update(data.get("outcomes") or {})
            merged.counters.update(data.get("counters") or {})
        return merged

    def attach(self, h: Harness) -> None:
        super().attach(h)
        self.runner.register_message(MSG_HISTORY, lambda environment, msg, **_: self.on_history(h, msg))

    def before_preflight(self, opts: Any) -> None:
        if opts.headless or opts.await_go:
            # connected workers hear the quit if the target is refused; unconnected ones would wait
            preflight.wait_for_workers(self.runner, int(getattr(opts, "expect_workers", 1) or 1))

    def refused(self) -> None:
        self.runner.quit()

    def test_start(self, h: Harness) -> None:
        if h.opts.headless and not self.accounts_ok(h):
            return
        self.send_config()
        h.start_run()

    def accounts_ok(self, h: Harness) -> bool:
        """Can the accounts be read? If not, stop the run with exit code 2 and say why."""
        try:
            h.load_accounts()
            return True
        except accounts_mod.AccountsError as exc:
            log.error("%s", exc)
            sys.stderr.write(f"mfa-harness: {exc}\n")
            h.environment.process_exit_code = run_end.EXIT_SETUP
            h.setup_failed = True
            gevent.spawn(self.runner.quit)
            return False

    def send_config(self) -> None:
        """Give every connected worker its rank (worker indexes can have gaps)."""
        runner = self.runner
        clients = sorted(runner.clients.all, key=lambda c: runner.get_worker_index(c.id))
        for rank, client in enumerate(clients):
            runner.send_message(MSG_CONFIG, {"rank": rank, "workers": len(clients)}, client_id=client.id)

    def on_history(self, h: Harness, msg: Any) -> None:
        """A worker's batch: its lines go to this process's listeners, its counts to the live view."""
        data = msg.data or {}
        if data.get("live") and not h.run.flushed:
            h.run.live[msg.node_id] = data["live"]
        for line in data.get("lines") or []:
            h.history.publish(line)
        if data.get("final"):
            h.metrics.merge(data.get("metrics") or {})
            h.no_account.update(data.get("no_account") or {})
            h.run.final_from.add(msg.node_id)

    def test_stopping(self, h: Harness) -> None:
        super().test_stopping(h)
        self.collect(h)

    def stop_users(self, h: Harness) -> None:
        self.collect(h)

    def collect(self, h: Harness) -> None:
        """Ask every connected worker for its last lines and wait for them (bounded)."""
        if h.run.flushed:
            return
        h.run.flushed = True
        expected = {c.id for c in self.runner.clients.all}
        if not expected:
            return
        self.runner.send_message(MSG_FLUSH, {})
        deadline = time.time() + float(h.environment.stop_timeout or 0) + FLUSH_GRACE
        while time.time() < deadline and not expected <= h.run.final_from:
            gevent.sleep(0.1)
        missing = expected - h.run.final_from
        if missing:
            log.error("no final history from worker(s) %s within %.0f s; their last lines may be missing",
                      ", ".join(sorted(missing)), FLUSH_GRACE)


class WorkerRole(Role):
    """Drives users; its history and counts travel to the master, which reports the run."""

    name = "worker"
    coordinates = False

    def __init__(self, runner: Any) -> None:
        super().__init__(runner)
        self.rank: int | None = None          # its place among the run's workers (from the master)
        self.worker_total: int | None = None

    @property
    def worker_index(self) -> int:
        return int(getattr(self.runner, "worker_index", 0) or 0)

    @property
    def workers(self) -> int:
        """How many processes share the accounts: the master says so at test start."""
        if self.worker_total is not None:
            return self.worker_total
        return max(1, int(getattr(self.runner.environment.parsed_options, "expect_workers", 1) or 1))

    @property
    def account_slot(self) -> int:
        return self.rank if self.rank is not None else self.worker_index

    def attach(self, h: Harness) -> None:
        if forked_by_master(h.opts):
            # Ctrl-C in a terminal reaches the whole process group; a forked worker that quits on its own
            # takes its histograms with it. The master coordinates the stop (mfa_flush, then quit).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        h.history.sink = BatchSink(lambda lines, final: self.send_batch(h, lines, final))
        self.runner.register_message(MSG_FLUSH, lambda environment, msg, **_: self.on_flush_request(h),
                                     concurrent=True)
        self.runner.register_message(MSG_CONFIG, lambda environment, msg, **_: self.on_config(h, msg))

    def on_config(self, h: Harness, msg: Any) -> None:
        """The master's rank and worker count, so each account goes to one worker only."""
        data = msg.data or {}
        self.rank, self.worker_total = int(data["rank"]), max(1, int(data["workers"]))
        h.pool = None                       # partition afresh for this run

    def send_batch(self, h: Harness, lines: list[str], final: bool) -> None:
        data: dict[str, Any] = {"lines": lines, "final": final,
                                "live": {"outcomes": dict(h.metrics.outcomes), "counters": dict(h.metrics.counters)}}
        if final:
            data["metrics"] = h.metrics.encode()
            data["no_account"] = dict(h.no_account)
        self.runner.send_message(MSG_HISTORY, data)

    def start_run(self, h: Harness) -> None:
        self.start_users_side(h)

    def final_flush(self, h: Harness) -> None:
        if h.run.flushed:
            return
        h.run.flushed = True
        h.stop_arrivals()
        h.history.sink.flush(final=True)

    def on_flush_request(self, h: Harness) -> None:
        """Master asked for the end of the run: stop users (they finish or record `info`), send the rest."""
        self.runner.stop()
        self.final_flush(h)

    def test_stop(self, h: Harness) -> None:
        super().test_stop(h)
        self.final_flush(h)

    def quitting(self, h: Harness) -> None:
        self.runner.stop()          # on SIGTERM the users are still running: let them finish or record `info`
        # a send to a master that is gone would block for ever (ZeroMQ queues it): bound it
        with gevent.Timeout(QUIT_SEND_TIMEOUT, False):
            self.final_flush(h)


def forked_by_master(opts: Any) -> bool:
    """A worker that `locust --processes N` forked from its master (not a `--worker` started by hand)."""
    return bool(getattr(opts, "processes", 0)) and "--worker" not in sys.argv \
        and os.environ.get("LOCUST_MODE_WORKER", "").lower() not in ("1", "true")
