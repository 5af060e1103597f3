"""What the load actually did: users asked and reached, run time asked and run, an early stop.

A run whose workers went missing (3 flows in 60 s) or whose master resent every user to the one
live worker (123 of 300 users) used to produce a summary that read like a full run. The tracker
samples the running user count (a master counts what its workers report) from test start to
the stop, and the summary's `run` block says what happened; `mfa-harness run` makes a shortfall
a problem.
"""

from __future__ import annotations

import time
from typing import Any

import gevent

USERS_SAMPLE_INTERVAL = 0.2   # wall seconds between samples of the running user count
EARLY_STOP_SLACK_S = 2.0      # wall seconds a run may end before its --run-time without counting as early


class LoadTracker:
    """Peak users and run time of one test run (on a standalone runner or a master)."""

    def __init__(self, runner: Any, opts: Any, workers_expected: int = 0) -> None:
        self.runner, self.opts = runner, opts
        self.workers_expected = workers_expected    # a master's --expect-workers (0 elsewhere)
        self.started: float | None = None     # wall time the load began (test_start)
        self.stopped: float | None = None     # wall time the stop began (test_stopping)
        self.users_peak = 0
        self._sampler: gevent.Greenlet | None = None

    def start(self) -> None:
        self.started, self.stopped, self.users_peak = time.time(), None, 0
        if self._sampler is None or self._sampler.dead:
            self._sampler = gevent.spawn(self._sample)

    def _sample(self) -> None:
        while self.stopped is None:
            self.note_users()
            gevent.sleep(USERS_SAMPLE_INTERVAL)
        self._sampler = None

    def note_users(self) -> None:
        self.users_peak = max(self.users_peak, int(getattr(self.runner, "user_count", 0) or 0))

    def note_stopping(self) -> None:
        if self.stopped is None and self.started is not None:
            self.note_users()
            self.stopped = time.time()

    def facts(self, aborted_by: str | None) -> dict[str, Any]:
        """The summary's `run` block; `stopped_early` says why when the load ended before its time."""
        asked_time = getattr(self.opts, "run_time", None)
        ran = round((self.stopped or time.time()) - self.started, 3) if self.started is not None else None
        early = None
        if aborted_by:
            early = f"aborted by threshold {aborted_by}"
        elif asked_time and ran is not None and ran < asked_time - max(EARLY_STOP_SLACK_S, 0.05 * asked_time):
            early = f"ran {ran:.1f} of {asked_time} wall seconds"
        return {"users_asked": getattr(self.opts, "num_users", None), "users_peak": self.users_peak,
                "run_time_asked_s": asked_time, "run_time_s": ran, "stopped_early": early,
                "workers_expected": self.workers_expected}
