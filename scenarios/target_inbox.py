"""An inbox the run did not start itself (`--target` mode): its own time axis, its own past.

A fault window in a scenario is in run time (scenario seconds since the run's epoch), but an
inbox started earlier counts scenario time from its own epoch, so the plan is shifted into
the inbox's time before it is sent. The inbox's delivery history also holds earlier runs and
stamps `st` on its own axis: lines from before this run are left out and `st` is re-stamped
on the run's axis, so the checker compares like with like.
"""

from __future__ import annotations

import copy
from typing import Any

from mfa_harness.errors import SetupError
from mfa_harness.timebase import Timebase


class TargetInboxError(SetupError):
    """The inbox's clock cannot carry this scenario's fault windows: `inbox_time_scale` (None when it does
    not report its clock) and `time_scale` (the scenario's)."""


def inbox_offset(info: dict[str, Any], epoch: float, time_scale: float) -> float:
    """Inbox scenario time at the run's epoch, from `/api/v1/info` (`Epoch`, `TimeScale`)."""
    inbox_epoch, inbox_scale = info.get("Epoch"), info.get("TimeScale")
    if not isinstance(inbox_epoch, int | float) or not isinstance(inbox_scale, int | float):
        raise TargetInboxError("the inbox does not report its clock (Epoch, TimeScale in /api/v1/info); "
                               "timed faults need the harness inbox (python -m mfa_harness.fake_smtp)", time_scale=time_scale)
    if abs(float(inbox_scale) - time_scale) > 1e-9 * max(1.0, time_scale):
        raise TargetInboxError(f"the inbox runs at time scale {inbox_scale:g} and the scenario at {time_scale:g}: "
                               f"start the inbox with --time-scale {time_scale:g} or run with --time-scale "
                               f"{inbox_scale:g}", inbox_time_scale=float(inbox_scale), time_scale=time_scale)
    return Timebase(epoch=float(inbox_epoch), scale=time_scale).st(epoch)


def shift_plan(plan: dict[str, Any], offset: float) -> dict[str, Any]:
    """The fault plan with every rule's `start`/`end` moved by `offset` scenario seconds."""
    shifted = copy.deepcopy(plan)
    for rule in shifted.get("rules", []):
        for key in ("start", "end"):
            if isinstance(rule.get(key), int | float):
                rule[key] = float(rule[key]) + offset
    return shifted


def restamp(lines: list[dict[str, Any]], epoch: float, time_scale: float, since_wall: float) -> list[dict[str, Any]]:
    """Lines written at or after `since_wall`, with `st` (and `X_st` beside an `X_wall`) on the
    run's axis."""
    run = Timebase(epoch=epoch, scale=time_scale)
    out = []
    for line in lines:
        wall = line.get("wall")
        if not isinstance(wall, int | float) or wall < since_wall:
            continue
        fixed = {**line, "st": round(run.st(wall), 6)}
        for key in line:       # e.g. delayed: until_st beside until_wall
            if key.endswith("_st") and isinstance(line.get(key[:-3] + "_wall"), int | float):
                fixed[key] = round(run.st(line[key[:-3] + "_wall"]), 6)
        out.append(fixed)
    return out
