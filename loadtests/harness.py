"""The per-process state of the mfa-harness, and what the simulated users call.

One `Harness` per Locust environment, kept on it (`environment.mfa_harness`, see `harness_of`),
never in a module global: two environments in one process (a test, a library user) keep apart.
What differs between a standalone runner, a master and a worker is not decided here but by the
harness's `role` (`roles.py`), picked once when Locust starts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import gevent
import gevent.lock

from . import accounts as accounts_mod
from . import thresholds as thresholds_mod
from .arrivals import Arrivals
from .history import History, Recorder
from .load_facts import LoadTracker
from .metrics import FlowMetrics
from .profile import TargetProfile
from .timebase import Timebase

if TYPE_CHECKING:
    from .roles import Role

log = logging.getLogger("loadtests")
ENV_ATTR = "mfa_harness"         # the attribute of the Locust environment holding its Harness


def harness_of(environment: Any) -> Harness:
    """The harness of this Locust environment (set by the `init` listener)."""
    h = getattr(environment, ENV_ATTR, None)
    if h is None:
        raise RuntimeError("the mfa-harness is not initialised (run through loadtests/locustfile.py)")
    return h


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


class RunState:
    """What one test run accumulates on top of the metrics; reset at every test start."""

    def __init__(self) -> None:
        self.flushed = False                         # the final history flush/collection happened
        self.final_from: set[str] = set()            # master: workers whose final batch arrived
        self.live: dict[str, dict[str, Any]] = {}    # master: each worker's latest counts, for early abort
        self.aborted: str | None = None              # the threshold that stopped the run (--abort-on-fail)


class Harness:
    """Per-process state shared by all simulated users of this process."""

    def __init__(self, environment: Any, opts: Any, profile: TargetProfile,
                 thresholds: list[thresholds_mod.Threshold], weights: dict[str, float], role: Role) -> None:
        self.environment = environment
        self.opts = opts
        self.profile = profile
        self.thresholds = thresholds
        self.weights = weights
        self.role = role
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
        self.run = RunState()
        self.summary_written = False
        self.setup_failed = False
        self._pool_lock = gevent.lock.Semaphore()
        self.load = LoadTracker(environment.runner, opts, role.workers_expected(opts))

    # ---- what users call -----------------------------------------------------------------------
    @property
    def inbox_url(self) -> str:
        return self.opts.inbox_url.rstrip("/")

    @property
    def worker_index(self) -> int:
        return self.role.worker_index

    @property
    def workers(self) -> int:
        """How many processes share the accounts (a worker hears it from the master at test start)."""
        return self.role.workers

    def recorder(self, persona: str, user: str) -> Recorder:
        self._procs += 1
        return Recorder(self.history, f"{self.worker_index}-{self._procs}", persona, user)

    def take_account(self, programs: tuple[str, ...]) -> accounts_mod.Account | None:
        # loading the accounts yields to other users (HTTP); the lock keeps it to one pool per run
        with self._pool_lock:
            if self.pool is None:
                self.pool = accounts_mod.AccountPool(self.load_accounts(), self.role.account_slot, self.workers)
            return self.pool.take(programs)

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

    # ---- run lifecycle (the role decides which parts run in this process) ----------------------
    def start_run(self) -> None:
        """A test starts: fresh metrics and run state, the thresholds as the web UI may have changed them."""
        self.refresh_time()
        try:
            self.thresholds = thresholds_mod.parse_all(self.opts.threshold)
        except thresholds_mod.ThresholdError as exc:
            log.error("%s; keeping the thresholds given at start-up", exc)
        self.metrics = FlowMetrics()
        self.run = RunState()
        self.role.start_run(self)

    def start_arrivals(self) -> None:
        """--arrival-rate: this process's share of the open-model arrivals."""
        if self.opts.arrival_rate > 0:
            rate = self.opts.arrival_rate * self.timebase.scale / self.workers
            self.arrivals = Arrivals(rate, on_count=self.count)
            self.arrivals.start()

    def stop_arrivals(self) -> None:
        if self.arrivals is not None:
            self.arrivals.stop()

    def refresh_time(self) -> None:
        """Adopt the master's `--epoch`/`--time-scale` (sent with the spawn message) on a worker."""
        epoch = float(self.opts.epoch or 0.0) or self.timebase.epoch
        if (epoch, float(self.opts.time_scale)) != (self.timebase.epoch, self.timebase.scale):
            self.timebase = Timebase(scale=float(self.opts.time_scale), epoch=epoch)
            self.history.timebase = self.timebase

    def live_metrics(self) -> FlowMetrics:
        """Counts so far: this process's, plus (on a master) every worker's latest report."""
        return self.role.live_metrics(self)

    def inbox_failures(self) -> int:
        """Failed inbox reads (code waits, message fetches): counted apart from the portal's requests."""
        return sum(int(e.num_failures) for e in self.environment.stats.entries.values() if e.method == "INBOX")
