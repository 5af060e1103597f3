"""The open workload model: login flows arrive as a Poisson process, whatever the response time.

Locust's own model is closed (a user starts its next flow when the last one ends). With
`--arrival-rate R`, a generator greenlet draws exponential gaps (R arrivals per scenario
second, split evenly across worker processes) and hands each arrival to an idle simulated
user; an arrival that finds no idle user is counted as dropped, never queued, so overload
shows up as a number instead of silently stretching the schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import gevent
from gevent.queue import Empty, Queue


def poisson_gaps(rate_per_wall_s: float, rng: random.Random):
    """Endless exponential inter-arrival gaps in wall seconds (pure, testable)."""
    if not rate_per_wall_s > 0:
        raise ValueError(f"arrival rate must be > 0, got {rate_per_wall_s!r}")
    while True:
        yield rng.expovariate(rate_per_wall_s)


class Arrivals:
    """Hands arrivals to idle users; counts started and dropped ones."""

    def __init__(self, rate_per_wall_s: float, seed: int | None = None,
                 on_count: Callable[[str], None] | None = None) -> None:
        self.rate = rate_per_wall_s
        self._rng = random.Random(seed)
        self._queue: Queue = Queue()
        self.idle = 0
        self.started = 0
        self.dropped = 0
        self._on_count = on_count
        self._greenlet: gevent.Greenlet | None = None

    def arrive(self) -> bool:
        """One arrival: start it if a user is idle, else count it as dropped."""
        if self.idle > self._queue.qsize():
            self._queue.put(1)
            self.started += 1
            self._note("arrivals_started")
            return True
        self.dropped += 1
        self._note("arrivals_dropped")
        return False

    def _note(self, name: str) -> None:
        if self._on_count is not None:
            self._on_count(name)

    def wait_turn(self, poll_s: float = 1.0) -> bool:
        """Block an idle user until an arrival is handed to it (True) or `poll_s` passes (False)."""
        self.idle += 1
        try:
            self._queue.get(timeout=poll_s)
            return True
        except Empty:
            return False
        finally:
            self.idle -= 1

    def _run(self) -> None:
        for gap in poisson_gaps(self.rate, self._rng):
            gevent.sleep(gap)
            self.arrive()

    def start(self) -> None:
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
