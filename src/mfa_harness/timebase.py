"""Scenario time: the one conversion between wall seconds and scenario seconds.

Every process (portal, inbox, Locust, runner) speaks scenario time in its files and logs and
sleeps or times out in wall time. Scenario time 0 is `epoch` (a Unix wall time) and scenario
time runs `scale` times faster than the wall clock: `st = (wall - epoch) * scale`. The
portal's harness-settable clock (`POST /_harness/clock`) adds an offset on top; see
`server/clock.py`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Beyond this a wall second holds hours of scenario time: sleeps and timeouts lose all meaning.
MAX_TIME_SCALE = 10_000.0


class Timebase:
    """Converts between wall time and scenario time for one run.

    `wall` is the source of "now" (injected so conversions can be tested without sleeping).
    Instances compare equal when epoch and scale are equal. Arguments are keywords only:
    epoch and scale are both floats, and the old clocks took them in different orders.
    """

    __slots__ = ("epoch", "scale", "_wall")

    def __init__(self, *, epoch: float | None = None, scale: float = 1.0,
                 wall: Callable[[], float] = time.time) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not (0 < scale < math.inf):
            raise ValueError(f"time scale must be > 0, got {scale!r}")
        self.epoch = float(wall() if epoch is None else epoch)
        if not math.isfinite(self.epoch):
            raise ValueError(f"epoch must be a finite Unix time, got {epoch!r}")
        self.scale = float(scale)
        self._wall = wall

    def __repr__(self) -> str:
        return f"{type(self).__name__}(epoch={self.epoch!r}, scale={self.scale!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timebase):
            return NotImplemented
        return (self.epoch, self.scale) == (other.epoch, other.scale)

    def __hash__(self) -> int:
        return hash((self.epoch, self.scale))

    def wall(self) -> float:
        """Current Unix wall time."""
        return self._wall()

    def st(self, wall: float | None = None) -> float:
        """Scenario time at Unix wall time `wall` (default: now)."""
        return ((self._wall() if wall is None else wall) - self.epoch) * self.scale

    def wall_at(self, st: float) -> float:
        """Unix wall time at which scenario time `st` is reached."""
        return self.epoch + st / self.scale

    def wall_seconds(self, scenario_seconds: float) -> float:
        """How long `scenario_seconds` of scenario time last on the wall clock."""
        return scenario_seconds / self.scale

    def scenario_seconds(self, wall_seconds: float) -> float:
        """A wall duration expressed in scenario seconds."""
        return wall_seconds * self.scale
