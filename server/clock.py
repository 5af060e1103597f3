"""Scenario clock: st = (wall - epoch) * scale + offset.

The offset is what `POST /_harness/clock` adds; it lives in the database so every portal
process agrees on the time. `offset_source` is called on every reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ScenarioClock:
    """Scenario time of this portal; durations in the policy are measured on it."""

    def __init__(self, epoch: float, scale: float, offset_source: Callable[[], float] | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        if scale <= 0:
            raise ValueError("time scale must be > 0")
        self.epoch = epoch
        self.scale = scale
        self._offset_source = offset_source or (lambda: 0.0)
        self._wall = wall

    def wall(self) -> float:
        """Unix wall time."""
        return self._wall()

    def offset(self) -> float:
        return self._offset_source()

    def now(self) -> float:
        """Scenario seconds since the epoch, including any harness clock jumps."""
        return (self._wall() - self.epoch) * self.scale + self._offset_source()

    def to_wall_seconds(self, scenario_seconds: float) -> float:
        """A scenario duration as wall seconds (for Retry-After and retry sleeps)."""
        return scenario_seconds / self.scale
