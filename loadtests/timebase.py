"""Scenario time for the load generator (docs/interfaces.md "Time").

Persona timings and thresholds speak scenario seconds; gevent sleeps and HTTP timeouts need
wall seconds. One small object converts both ways so no persona does the arithmetic itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timebase:
    """`st = (wall - epoch) * scale`; `scale` > 0 and `epoch` a Unix wall time."""

    scale: float = 1.0
    epoch: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"time scale must be > 0, got {self.scale!r}")

    def st(self, wall: float | None = None) -> float:
        """Scenario time of `wall` (default: now)."""
        return ((time.time() if wall is None else wall) - self.epoch) * self.scale

    def wall_seconds(self, scenario_seconds: float) -> float:
        """How long `scenario_seconds` of scenario time last on the wall clock."""
        return scenario_seconds / self.scale

    def scenario_seconds(self, wall_seconds: float) -> float:
        """A wall duration expressed in scenario seconds."""
        return wall_seconds * self.scale
