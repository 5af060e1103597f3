"""The distributed roles: a master that drives no user, and workers that forward their history.

Workers batch their history lines to the master over Locust's messaging (`mfa_history`, with
their latest counts for --abort-on-fail); when the test stops, the master asks every worker
to stop its users and send what is left, with its encoded HDR histograms (`mfa_flush`), waits
for all of them (bounded), and only then writes the summary. So no line is lost when a worker
stops, and percentiles are merged exactly. At test start the master gives each worker its rank
(`mfa_config`), so each account goes to one worker only.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import gevent

from mfa_harness.errors import tell_parent

from . import accounts as accounts_mod
from . import preflight, run_end
from .history import BatchSink
from .metrics import FlowMetrics
from .roles import Coordinator, Role

if TYPE_CHECKING:
    from .harness import Harness

log = logging.getLogger("loadtests")
MSG_HISTORY = "mfa_history"
MSG_FLUSH = "mfa_flush"
MSG_CONFIG = "mfa_config"
FLUSH_GRACE = 30.0            # extra wall seconds the master waits for workers' last lines
QUIT_SEND_TIMEOUT = 10.0      # wall seconds a quitting worker tries to send its last lines


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
            tell_parent(str(exc))
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
