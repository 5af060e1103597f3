"""Wiring into Locust: options, per-process state, history/metrics transport, summary, exit code.

One `Harness` per Locust process. A standalone runner writes history and summary itself. In a
distributed run (`--processes N`, or `--master`/`--worker`) workers batch their history
lines to the master over Locust's messaging (`mfa_history`); when the test stops, the master
asks every worker to stop its users and send what is left, with its encoded HDR histograms
(`mfa_flush`), waits for all of them (bounded), and only then writes the summary. So no
line is lost when a worker stops, and percentiles are merged exactly.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import gevent.lock
from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from . import accounts as accounts_mod
from . import options as options_mod
from . import preflight
from . import thresholds as thresholds_mod
from .arrivals import Arrivals
from .history import BatchSink, FileSink, History, Recorder, Sink
from .load_facts import LoadTracker
from .metrics import OUTCOMES, FlowMetrics
from .profile import ProfileError, TargetProfile, load_profile
from .timebase import Timebase

log = logging.getLogger("loadtests")
MSG_HISTORY = "mfa_history"
MSG_FLUSH = "mfa_flush"
MSG_CONFIG = "mfa_config"
FLUSH_INTERVAL = 1.0          # wall seconds between a worker's history batches
FLUSH_GRACE = 30.0            # extra wall seconds the master waits for workers' last lines
QUIT_SEND_TIMEOUT = 10.0      # wall seconds a quitting worker tries to send its last lines
ABORT_CHECK_INTERVAL = 1.0    # wall seconds between checks of --abort-on-fail thresholds
EXIT_FAILURES = 1             # Locust's own code for "requests failed"
EXIT_SETUP = 2

_HARNESS: Harness | None = None


def harness() -> Harness:
    if _HARNESS is None:
        raise RuntimeError("the mfa-harness is not initialised (run through loadtests/locustfile.py)")
    return _HARNESS


class SideStats:
    """A `request_event` stand-in logging into Locust stats rows of their own request type.

    The rows appear in the stats table, CSV and HTML report, but are left out of the
    "Aggregated" row, so inbox long-polls and flow timings never inflate the portal's RPS.
    """

    def __init__(self, environment: Any, request_type: str) -> None:
        self.environment = environment
        self.request_type = request_type

    def fire(self, *, name: str, response_time: float, response_length: int = 0, exception: Any = None,
             **_: Any) -> None:
        entry = self.environment.stats.get(name, self.request_type)
        entry.log(int(response_time), int(response_length or 0))
        if exception is not None:
            entry.log_error(exception)


class Harness:
    """Per-process state shared by all simulated users of this process."""

    def __init__(self, environment: Any, opts: Any, profile: TargetProfile,
                 thresholds: list[thresholds_mod.Threshold], weights: dict[str, float]) -> None:
        self.environment = environment
        self.opts = opts
        self.profile = profile
        self.thresholds = thresholds
        self.weights = weights
        self.timebase = Timebase(scale=opts.time_scale, epoch=opts.epoch or time.time())
        self.metrics = FlowMetrics()
        self.history = History(self.timebase)
        self.inbox_event = SideStats(environment, "INBOX")
        self.flow_event = SideStats(environment, "FLOW")
        self.arrivals: Arrivals | None = None
        self.pool: accounts_mod.AccountPool | None = None
        self.accounts: list[accounts_mod.Account] | None = None
        self.no_account: Counter[str] = Counter()
        self._procs = 0
        self.final_from: set[str] = set()
        self.flushed = False
        self.summary_written = False
        self._flusher: gevent.Greenlet | None = None
        self.live: dict[str, dict[str, Any]] = {}      # master: each worker's latest counts, for early abort
        self.aborted: str | None = None
        self._watcher: gevent.Greenlet | None = None
        self._pool_lock = gevent.lock.Semaphore()
        self.setup_failed = False
        self.rank: int | None = None          # worker: its place among the run's workers (from the master)
        self.worker_total: int | None = None
        self.load = LoadTracker(environment.runner, opts)

    # ---- what users call -----------------------------------------------------------------------
    @property
    def inbox_url(self) -> str:
        return self.opts.inbox_url.rstrip("/")

    @property
    def worker_index(self) -> int:
        runner = self.environment.runner
        return int(getattr(runner, "worker_index", 0) or 0) if isinstance(runner, WorkerRunner) else 0

    @property
    def workers(self) -> int:
        """How many processes share the accounts: the master says so at test start."""
        if not isinstance(self.environment.runner, WorkerRunner):
            return 1
        if self.worker_total is not None:
            return self.worker_total
        return max(1, int(getattr(self.environment.parsed_options, "expect_workers", 1) or 1))

    @property
    def account_slot(self) -> int:
        return self.rank if self.rank is not None else self.worker_index

    def on_config(self, environment: Any, msg: Any, **_: Any) -> None:
        """Worker: the master's rank and worker count, so each account goes to one worker only."""
        data = msg.data or {}
        self.rank, self.worker_total = int(data["rank"]), max(1, int(data["workers"]))
        self.pool = None                       # partition afresh for this run

    def send_config(self) -> None:
        """Master: give every connected worker its rank (worker indexes can have gaps)."""
        runner = self.environment.runner
        clients = sorted(runner.clients.all, key=lambda c: runner.get_worker_index(c.id))
        for rank, client in enumerate(clients):
            runner.send_message(MSG_CONFIG, {"rank": rank, "workers": len(clients)}, client_id=client.id)

    def recorder(self, persona: str, user: str) -> Recorder:
        self._procs += 1
        return Recorder(self.history, f"{self.worker_index}-{self._procs}", persona, user)

    def take_account(self, programs: tuple[str, ...]) -> accounts_mod.Account | None:
        # loading the accounts yields to other users (HTTP); the lock keeps it to one pool per run
        with self._pool_lock:
            if self.pool is None:
                self.pool = accounts_mod.AccountPool(self.load_accounts(), self.account_slot, self.workers)
            return self.pool.take(programs)

    def accounts_ok(self) -> bool:
        """Master: can the accounts be read? If not, stop the run with exit code 2 and say why."""
        try:
            self.load_accounts()
            return True
        except accounts_mod.AccountsError as exc:
            log.error("%s", exc)
            sys.stderr.write(f"mfa-harness: {exc}\n")
            self.environment.process_exit_code = EXIT_SETUP
            self.setup_failed = True
            gevent.spawn(self.environment.runner.quit)
            return False

    def note_accounts_error(self, exc: Exception) -> None:
        if not self.no_account["(accounts error)"]:
            log.error("cannot hand out accounts: %s; users stop", exc)
        self.no_account["(accounts error)"] += 1

    def note_no_account(self, persona: str, programs: tuple[str, ...]) -> None:
        if not self.no_account[persona]:
            log.error("no unused %s account left for a %s user: add accounts (each user needs its own); "
                      "the user stops", "/".join(programs), persona)
        self.no_account[persona] += 1

    def load_accounts(self) -> list[accounts_mod.Account]:
        if self.accounts is None:
            if self.opts.accounts_file:
                self.accounts = accounts_mod.load_file(self.opts.accounts_file)
            else:
                url = self.opts.accounts_url or (self.environment.host or "").rstrip("/") + "/_harness/accounts"
                self.accounts = accounts_mod.load_url(url)
        return self.accounts

    def record_flow(self, outcome: str, duration: float, resends: int, code_wait: float | None,
                    delivery: float | None) -> None:
        self.metrics.record_flow(outcome, duration, self.timebase.scale, resends, code_wait, delivery)
        self.flow_event.fire(name="login flow", response_time=duration * 1000.0,
                             exception=None if outcome == "ok" else outcome)
        if code_wait is not None:
            self.flow_event.fire(name="code wait", response_time=code_wait * 1000.0)

    def side_flow(self, name: str, seconds: float) -> None:
        self.flow_event.fire(name=name, response_time=seconds * 1000.0)

    def count(self, name: str, n: int = 1) -> None:
        self.metrics.count(name, n)

    # ---- run lifecycle ---------------------------------------------------------------------------
    def start_run(self) -> None:
        self.refresh_time()
        try:                                    # the web UI may have changed them since start-up
            self.thresholds = thresholds_mod.parse_all(self.opts.threshold)
        except thresholds_mod.ThresholdError as exc:
            log.error("%s; keeping the thresholds given at start-up", exc)
        self.flushed = False
        self.final_from = set()
        self.metrics = FlowMetrics()
        self.live = {}
        self.aborted = None
        if not isinstance(self.environment.runner, WorkerRunner):
            self.load.start()
        if (self.opts.abort_on_fail and not isinstance(self.environment.runner, WorkerRunner)
                and any(thresholds_mod.can_abort_on(t) for t in self.thresholds)):
            if self._watcher is None or self._watcher.dead:
                self._watcher = gevent.spawn(self._watch_thresholds)
        if self.opts.arrival_rate > 0 and not isinstance(self.environment.runner, MasterRunner):
            rate = self.opts.arrival_rate * self.timebase.scale / self.workers
            self.arrivals = Arrivals(rate, on_count=self.count)
            self.arrivals.start()
        if not isinstance(self.environment.runner, MasterRunner) and self._flusher is None:
            self._flusher = gevent.spawn(self._flush_loop)

    def inbox_failures(self) -> int:
        """Failed inbox reads (code waits, message fetches): counted apart from the portal's requests."""
        return sum(int(e.num_failures) for e in self.environment.stats.entries.values() if e.method == "INBOX")

    def _flush_loop(self) -> None:
        """Push lines on every second until the final flush (then the greenlet ends): a worker
        sends them to the master; a single process flushes its file, so a live reader of the
        history (the runner's progress view in target mode) sees flows within a second."""
        while not self.flushed:
            gevent.sleep(FLUSH_INTERVAL)
            if not self.flushed:
                self.history.sink.flush()
        self._flusher = None

    def refresh_time(self) -> None:
        """Adopt the master's `--epoch`/`--time-scale` (sent with the spawn message) on a worker."""
        epoch = float(self.opts.epoch or 0.0) or self.timebase.epoch
        if (epoch, float(self.opts.time_scale)) != (self.timebase.epoch, self.timebase.scale):
            self.timebase = Timebase(scale=float(self.opts.time_scale), epoch=epoch)
            self.history.timebase = self.timebase

    def live_metrics(self) -> FlowMetrics:
        """Counts so far: this process's, plus (on a master) every worker's latest report."""
        if not isinstance(self.environment.runner, MasterRunner):
            return self.metrics
        merged = FlowMetrics()
        for data in self.live.values():
            merged.outcomes.update(data.get("outcomes") or {})
            merged.counters.update(data.get("counters") or {})
        return merged

    def _watch_thresholds(self) -> None:
        """--abort-on-fail: stop the run once a growing count has missed its threshold for good."""
        watched = [t for t in self.thresholds if thresholds_mod.can_abort_on(t)]
        while self.aborted is None and not self.flushed:
            gevent.sleep(ABORT_CHECK_INTERVAL)
            metrics = self.live_metrics()
            http = thresholds_mod.http_values(self.environment.stats.total)
            for t in watched:
                value = thresholds_mod.metric_value(t.metric, metrics, http)
                if thresholds_mod.missed_for_good(t, value):
                    self.aborted = t.expr
                    log.error("threshold missed while running: %s (value %s); stopping the test (--abort-on-fail)",
                              t.expr, value)
                    headless = bool(getattr(self.opts, "headless", False))
                    gevent.spawn(self.environment.runner.quit if headless else self.environment.runner.stop)
                    return

    def stop_arrivals(self) -> None:
        if self.arrivals is not None:
            self.arrivals.stop()

    # worker side
    def send_batch(self, lines: list[str], final: bool) -> None:
        data: dict[str, Any] = {"lines": lines, "final": final,
                                "live": {"outcomes": dict(self.metrics.outcomes), "counters": dict(self.metrics.counters)}}
        if final:
            data["metrics"] = self.metrics.encode()
            data["no_account"] = dict(self.no_account)
        self.environment.runner.send_message(MSG_HISTORY, data)

    def worker_final_flush(self) -> None:
        if self.flushed:
            return
        self.flushed = True
        self.stop_arrivals()
        self.history.sink.flush(final=True)

    def on_flush_request(self, environment: Any, msg: Any, **_: Any) -> None:
        """Master asked for the end of the run: stop users (they finish or record `info`), send the rest."""
        environment.runner.stop()
        self.worker_final_flush()

    # master side
    def on_history(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data or {}
        if data.get("live") and not self.flushed:
            self.live[msg.node_id] = data["live"]
        lines = data.get("lines") or []
        if lines:
            for line in lines:
                self.history.sink.write(line)
            self.history.count += len(lines)
        if data.get("final"):
            self.metrics.merge(data.get("metrics") or {})
            self.no_account.update(data.get("no_account") or {})
            self.final_from.add(msg.node_id)

    def master_collect(self) -> None:
        """Ask every connected worker for its last lines and wait for them (bounded)."""
        runner = self.environment.runner
        if self.flushed:
            return
        self.flushed = True
        expected = {c.id for c in runner.clients.all}
        if not expected:
            return
        runner.send_message(MSG_FLUSH, {})
        deadline = time.time() + float(self.environment.stop_timeout or 0) + FLUSH_GRACE
        while time.time() < deadline and not expected <= self.final_from:
            gevent.sleep(0.1)
        missing = expected - self.final_from
        if missing:
            log.error("no final history from worker(s) %s within %.0f s; their last lines may be missing",
                      ", ".join(sorted(missing)), FLUSH_GRACE)

    # ---- end of run ------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        total = self.environment.stats.total
        results = thresholds_mod.evaluate(self.thresholds, self.metrics, total)
        http = thresholds_mod.http_values(total)
        for p in ("p50", "p95", "p99"):
            http[p] = thresholds_mod.http_percentile(total, p)
        outcomes = {k: int(self.metrics.outcomes.get(k, 0)) for k in OUTCOMES}
        outcomes.update({k: int(v) for k, v in self.metrics.outcomes.items() if k not in outcomes})
        return {
            "profile": self.profile.name, "time_scale": self.timebase.scale, "epoch": self.timebase.epoch,
            "personas": self.weights, "flows": self.metrics.flows(), "outcomes": outcomes,
            "flow": {"success_rate": self.metrics.success_rate()},
            "loops": int(self.metrics.counters.get("loops", 0)),
            "loop_breaker": int(self.metrics.counters.get("loop_breaker", 0)),
            "arrivals": {"rate_per_scenario_s": self.opts.arrival_rate,
                         "started": int(self.metrics.counters.get("arrivals_started", 0)),
                         "dropped": int(self.metrics.counters.get("arrivals_dropped", 0))},
            "metrics": self.metrics.summary(),
            "http": http,
            "history_lines": self.history.count,
            "workers_reported": sorted(self.final_from),
            "users_without_account": dict(self.no_account),
            "thresholds": results,
            "thresholds_passed": all(r["passed"] for r in results.values()),
            "aborted_by": self.aborted,
            "run": self.load.facts(self.aborted),
            "inbox": {"failures": self.inbox_failures()},
        }

    def finish(self, close: bool = True) -> None:
        """Write the summary (again: the latest stats win), set the exit code; at the very end close the history."""
        summary = self.summary()
        if close and not self.summary_written:
            self.summary_written = True
            self.close_history()
        if self.opts.summary_file:
            path = Path(self.opts.summary_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        failed = [e for e, r in summary["thresholds"].items() if not r["passed"]]
        for expr in failed if close else []:
            r = summary["thresholds"][expr]
            log.error("threshold missed: %s (value %s)", expr, r["value"])
        if self.setup_failed:
            self.environment.process_exit_code = EXIT_SETUP
        elif failed:
            self.environment.process_exit_code = thresholds_mod.EXIT_THRESHOLD
        elif summary["inbox"]["failures"] or (summary["flows"] and not summary["outcomes"].get("ok")):
            # inbox failures are kept out of the portal's "Aggregated" row, so Locust would not count
            # them; and a run where nobody signed in did not pass, whatever the requests said
            if close:
                log.error("%d inbox request(s) failed; %d of %d login flows succeeded",
                          summary["inbox"]["failures"], summary["outcomes"].get("ok", 0), summary["flows"])
            self.environment.process_exit_code = EXIT_FAILURES
        else:
            self.environment.process_exit_code = None

    def close_history(self) -> None:
        """Close the file; on the master, sort the merged lines by wall time (stable, per-proc order kept)."""
        sink = self.history.sink
        sink.close()
        if isinstance(self.environment.runner, MasterRunner) and isinstance(sink, FileSink):
            sort_history_file(sink.path)
        if isinstance(sink, FileSink) and sink.late:
            log.warning("%d history lines came after the summary and are not in %s", sink.late, sink.path)


def sort_history_file(path: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
    """Order a merged history by `wall` (lines of each worker arrive in batches, interleaved)."""
    if not path.exists() or path.stat().st_size > max_bytes:
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.sort(key=lambda line: json.loads(line).get("wall", 0.0))
    tmp = path.with_suffix(path.suffix + ".sorting")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)


# ---- event listeners -----------------------------------------------------------------------------
def _fail_setup(message: str) -> None:
    sys.stderr.write(f"mfa-harness: {message}\n")
    sys.stderr.flush()
    sys.exit(EXIT_SETUP)


def apply_weights(environment: Any, weights: dict[str, float], personas: dict[str, type]) -> None:
    """Set user-class weights by persona name; classes left at 0 are not spawned."""
    ints = options_mod.integer_weights(weights)
    chosen = []
    for name, cls in personas.items():
        w = ints.get(name, 0)
        cls.weight = w
        if w > 0:
            chosen.append(cls)
    environment.user_classes = chosen


def forked_by_master(opts: Any) -> bool:
    """A worker that `locust --processes N` forked from its master (not a `--worker` started by hand)."""
    return bool(getattr(opts, "processes", 0)) and "--worker" not in sys.argv \
        and os.environ.get("LOCUST_MODE_WORKER", "").lower() not in ("1", "true")


def on_init(environment: Any, runner: Any, **_: Any) -> None:
    global _HARNESS
    from .personas import PERSONAS

    opts = environment.parsed_options
    if opts is None:
        _fail_setup("the mfa-harness needs Locust's command line (run `locust -f loadtests/locustfile.py`)")
    is_worker = isinstance(runner, WorkerRunner)
    try:
        options_mod.check_options(opts)
        weights = options_mod.parse_personas(opts.personas, list(PERSONAS))
        profile = load_profile(opts.target_profile or None)
        thresholds = thresholds_mod.parse_all(opts.threshold)
    except (options_mod.OptionsError, ProfileError, thresholds_mod.ThresholdError) as exc:
        _fail_setup(str(exc))
    if not weights:
        weights = {name: 1.0 for name in PERSONAS}
    if not is_worker:
        apply_weights(environment, weights, PERSONAS)
    if not opts.inbox_url and not is_worker:
        _fail_setup("--inbox-url is required (the inbox API the users read their codes from)")
    if not is_worker and not opts.epoch:
        opts.epoch = time.time()       # one scenario time axis for the master and all its workers
    h = Harness(environment, opts, profile, thresholds, weights)
    if is_worker and forked_by_master(opts):
        # Ctrl-C in a terminal reaches the whole process group; a forked worker that quits on its own
        # takes its histograms with it. The master coordinates the stop (mfa_flush, then quit).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if isinstance(runner, WorkerRunner):
        h.history.sink = BatchSink(h.send_batch)
        runner.register_message(MSG_FLUSH, h.on_flush_request, concurrent=True)
        runner.register_message(MSG_CONFIG, h.on_config)
    elif opts.history_file:
        h.history.sink = FileSink(opts.history_file)
    else:
        h.history.sink = Sink()
    if isinstance(runner, MasterRunner):
        runner.register_message(MSG_HISTORY, h.on_history)
    if isinstance(runner, LocalRunner) and opts.headless and (environment.host or opts.accounts_file):
        # fail fast, before any load, when the accounts cannot be read (a master checks at test start,
        # once its workers are connected, so none is left waiting for a master that has exited)
        try:
            h.load_accounts()
        except accounts_mod.AccountsError as exc:
            _fail_setup(str(exc))
    if not is_worker:
        _preflight(environment, runner, opts, h)
    _HARNESS = h


def _preflight(environment: Any, runner: Any, opts: Any, h: Harness) -> None:
    """Refuse, before any load, a target whose inbox or portal does not answer or runs at another
    time scale; with --await-go, wait for the runner's epoch so the load begins at scenario time 0."""
    master = isinstance(runner, MasterRunner)
    try:
        if master and (opts.headless or opts.await_go):
            # connected workers hear the quit if the target is refused; unconnected ones would wait
            preflight.wait_for_workers(runner, int(getattr(opts, "expect_workers", 1) or 1))
        if environment.host:
            preflight.check_portal(environment.host, float(opts.time_scale))
        if opts.inbox_url:
            preflight.check_inbox(opts.inbox_url, float(opts.time_scale))
        if opts.await_go:
            opts.epoch = preflight.await_go()
            h.refresh_time()
    except preflight.PreflightError as exc:
        if master:
            runner.quit()
        _fail_setup(str(exc))


def on_test_start(environment: Any, **_: Any) -> None:
    if _HARNESS is None:
        return
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        if _HARNESS.opts.headless and not _HARNESS.accounts_ok():
            return
        _HARNESS.send_config()
    _HARNESS.start_run()


def on_test_stopping(environment: Any, **_: Any) -> None:
    if _HARNESS is None:
        return
    if not isinstance(environment.runner, WorkerRunner):
        _HARNESS.load.note_stopping()
    if isinstance(environment.runner, MasterRunner):
        _HARNESS.master_collect()


def on_test_stop(environment: Any, **_: Any) -> None:
    if _HARNESS is None:
        return
    _HARNESS.stop_arrivals()
    if isinstance(environment.runner, WorkerRunner):
        _HARNESS.worker_final_flush()
    else:
        _HARNESS.history.sink.flush()
        _HARNESS.finish(close=False)       # a web-UI run gets its summary when stopped, too


def on_quitting(environment: Any, **_: Any) -> None:
    if _HARNESS is None:
        return
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.stop()          # on SIGTERM the users are still running: let them finish or record `info`
        # a send to a master that is gone would block for ever (ZeroMQ queues it): bound it
        with gevent.Timeout(QUIT_SEND_TIMEOUT, False):
            _HARNESS.worker_final_flush()
        return
    _HARNESS.load.note_stopping()   # on SIGTERM `quitting` may come before `test_stopping`
    if isinstance(runner, MasterRunner):
        _HARNESS.master_collect()
    else:
        runner.stop()          # on SIGTERM, Locust fires `quitting` before stopping the users
    _HARNESS.finish()


def register() -> None:
    """Attach the listeners (called once by the locustfile)."""
    events.init_command_line_parser.add_listener(options_mod.add_arguments)
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stopping.add_listener(on_test_stopping)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
