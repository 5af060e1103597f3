"""The portal's scenario clock: the shared Timebase plus the harness's settable offset.

st = (wall - epoch) * scale + offset. The offset is what `POST /_harness/clock` adds; it lives
in the database so every portal process agrees on the time. `offset_source` is called on
every reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mfa_harness.timebase import Timebase


class ScenarioClock(Timebase):
    """Scenario time of this portal; durations in the policy are measured on it."""

    __slots__ = ("_offset_source",)

    def __init__(self, epoch: float, scale: float, offset_source: Callable[[], float] | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        super().__init__(epoch=epoch, scale=scale, wall=wall)
        self._offset_source = offset_source or (lambda: 0.0)

    def offset(self) -> float:
        return self._offset_source()

    def st(self, wall: float | None = None) -> float:
        """Scenario seconds at `wall` (default: now), including any harness clock jumps."""
        return super().st(wall) + self._offset_source()

    def wall_at(self, st: float) -> float:
        """Wall time at which scenario time `st` is reached, with the current offset."""
        return super().wall_at(st - self._offset_source())

    def now(self) -> float:
        """Scenario seconds now, including any harness clock jumps."""
        return self.st()
