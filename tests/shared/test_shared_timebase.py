"""The one wall <-> scenario time conversion (mfa_harness.timebase) and the clocks built on it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_harness.loadtests.timebase import Timebase as LocustTimebase
from mfa_harness.server.clock import ScenarioClock as PortalClock
from mfa_harness.timebase import MAX_TIME_SCALE, Timebase


def test_converts_both_ways() -> None:
    tb = Timebase(epoch=1000.0, scale=30.0, wall=lambda: 1002.0)
    assert tb.st() == 60.0                       # two wall seconds are a scenario minute
    assert tb.st(1010.0) == 300.0
    assert tb.wall_at(300.0) == 1010.0
    assert tb.wall_seconds(300.0) == 10.0
    assert tb.scenario_seconds(10.0) == 300.0
    assert tb.wall() == 1002.0


def test_default_epoch_is_now_and_equality_ignores_the_wall_source() -> None:
    tb = Timebase(wall=lambda: 55.0)
    assert tb.epoch == 55.0 and tb.st() == 0.0
    assert Timebase(epoch=1.0, scale=2.0) == Timebase(epoch=1.0, scale=2.0, wall=lambda: 0.0) != Timebase(epoch=1.0, scale=3.0)
    assert repr(Timebase(epoch=1.0, scale=2.0)) == "Timebase(epoch=1.0, scale=2.0)"


@pytest.mark.parametrize("scale", [0, -1.0, math.nan, math.inf, True, "2"])
def test_refuses_a_scale_that_is_not_positive_and_finite(scale: object) -> None:
    with pytest.raises(ValueError, match="time scale must be > 0"):
        Timebase(epoch=0.0, scale=scale)  # type: ignore[arg-type]


def test_epoch_and_scale_are_keywords_only() -> None:
    """The old clocks took (epoch, scale) and (scale, epoch): a positional call could swap them silently."""
    with pytest.raises(TypeError):
        Timebase(1000.0, 2.0)  # type: ignore[misc]


def test_refuses_an_epoch_that_is_not_finite() -> None:
    with pytest.raises(ValueError, match="epoch must be a finite"):
        Timebase(epoch=math.nan, scale=1.0)


@given(st.floats(min_value=0.0, max_value=4e9), st.floats(min_value=1e-3, max_value=MAX_TIME_SCALE),
       st.floats(min_value=-1e6, max_value=1e6))
def test_wall_at_inverts_st(epoch: float, scale: float, st_: float) -> None:
    tb = Timebase(epoch=epoch, scale=scale)
    assert math.isclose(tb.st(tb.wall_at(st_)), st_, rel_tol=1e-9, abs_tol=1e-6 * scale)


def test_every_process_converts_with_the_one_class() -> None:
    """Portal, inbox and Locust clocks are the shared Timebase, so they cannot drift apart."""
    wall = lambda: 1005.0  # noqa: E731
    portal = PortalClock(1000.0, 10.0, lambda: 7.0, wall=wall)
    inbox = Timebase(epoch=1000.0, scale=10.0, wall=wall)      # the inbox uses the class itself
    locust = LocustTimebase(epoch=1000.0, scale=10.0, wall=wall)
    for clock in (portal, inbox, locust):
        assert isinstance(clock, Timebase)
        assert clock.wall_seconds(50.0) == 5.0 and clock.scenario_seconds(5.0) == 50.0
    assert inbox.st() == locust.st() == 50.0 and inbox.wall_at(50.0) == 1005.0
    assert portal.now() == portal.st() == 57.0 and portal.offset() == 7.0   # plus the harness offset
    assert portal.wall_at(57.0) == 1005.0 and portal.st(1005.0) == 57.0
