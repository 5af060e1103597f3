"""Scenario clock: one time axis shared by portal, inbox and clients.

Scenario time is ``(wall - epoch) * scale``; fault windows and delays are in scenario
seconds, HTTP timeouts and retention are in wall seconds.  The wall source is injected so
fault decisions can be unit-tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ScenarioClock:
    """Converts between wall time and scenario time."""

    def __init__(self, epoch: float, scale: float = 1.0, wall: Callable[[], float] = time.time) -> None:
        if scale <= 0:
            raise ValueError("time scale must be > 0")
        self.epoch = epoch
        self.scale = scale
        self._wall = wall

    def wall(self) -> float:
        """Current Unix wall time."""
        return self._wall()

    def st(self, wall: float | None = None) -> float:
        """Scenario time at ``wall`` (default: now)."""
        w = self._wall() if wall is None else wall
        return (w - self.epoch) * self.scale

    def wall_at(self, st: float) -> float:
        """Wall time at which scenario time ``st`` is reached."""
        return self.epoch + st / self.scale

    def wall_duration(self, scenario_seconds: float) -> float:
        """Wall seconds that ``scenario_seconds`` take."""
        return scenario_seconds / self.scale
