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
The two distributed roles and their messages are in `distributed.py`; `role_for` picks one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from . import accounts as accounts_mod
from . import preflight, run_end
from . import thresholds as thresholds_mod
from .history import FileSink, Sink
from .metrics import FlowMetrics

if TYPE_CHECKING:
    from .harness import Harness

log = logging.getLogger("loadtests")
FLUSH_INTERVAL = 1.0          # wall seconds between a process's history flushes (a worker's batches)
ABORT_CHECK_INTERVAL = 1.0    # wall seconds between checks of --abort-on-fail thresholds


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


def role_for(runner: Any) -> Role:
    """The role of the process whose Locust runner this is (the one place that looks at its type)."""
    from .distributed import MasterRole, WorkerRole  # they build on the classes above

    if isinstance(runner, WorkerRunner):
        return WorkerRole(runner)
    if isinstance(runner, MasterRunner):
        return MasterRole(runner)
    return LocalRole(runner)
