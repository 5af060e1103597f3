"""The moment the load begins: scenario time 0, whatever the processes' start-up costs.

Locust starts with `--await-go` and says when it is ready (set up, workers connected, target
checked). Only then does the runner pick the epoch, move the local portal's clock and the
inbox's fault windows onto it, and tell Locust to begin at it. Before this, the runner slept
until an epoch fixed at launch and only then started Locust, whose own start-up (1.4 s and
more on a busy machine) put the first client operation at scenario time ~80 s at x60.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from . import collect, target_inbox
from .nemesis import post_json
from .stack import LocalStack, StackError, start_child

GO_MARGIN_S = 0.3          # wall seconds between "everything is up" and scenario time 0 (clock moves, go line)
LOCUST_READY_S = 180.0     # wall seconds Locust may take to set up (imports, workers, preflight) on a busy host


class LoadStartError(RuntimeError):
    """The load could not be started or aligned; the message is one line for the user."""


def start_locust(argv: list[str], out: Path) -> subprocess.Popen:
    """Start Locust and wait (bounded) for its ready line: set up, workers connected, target answered."""
    try:
        child = start_child("locust", argv, out / "logs" / "locust.log", timeout=LOCUST_READY_S, stdin_pipe=True)
    except StackError as exc:
        raise LoadStartError(f"Locust did not start: {exc.reason}" if exc.reason else str(exc)) from None
    return child.proc


def send_go(locust: subprocess.Popen, epoch: float) -> None:
    assert locust.stdin is not None
    try:
        locust.stdin.write((json.dumps({"epoch": epoch}) + "\n").encode())
        locust.stdin.close()
    except OSError:
        pass        # Locust is gone: its exit code says why


def align_target(stack: LocalStack | None, portal_url: str, inbox_url: str, fault_plan: dict[str, Any] | None,
                 epoch: float, time_scale: float) -> None:
    """Move the stack's clocks onto the run's axis (`epoch`): the local portal's harness clock, and
    the inbox's fault windows (in the inbox's own time, so shifted by its epoch's offset)."""
    if stack is not None:
        try:
            post_json(portal_url + "/_harness/clock", {"advance": -(epoch - stack.cfg.epoch) * time_scale})
        except (OSError, ValueError) as exc:
            raise LoadStartError(f"cannot set the portal's clock at {portal_url}: {exc}") from None
    if fault_plan is None:
        return
    try:
        offset = target_inbox.inbox_offset(collect.get_json(inbox_url + "/api/v1/info", timeout=10),
                                           epoch, time_scale) if fault_plan.get("rules") else 0.0
    except (collect.CollectError, ValueError) as exc:     # TargetInboxError, or not JSON
        raise LoadStartError(f"--inbox-url {inbox_url}: {exc}") from None
    put_faults(inbox_url, target_inbox.shift_plan(fault_plan, offset))


def without_alignment(events: list[dict[str, Any]], epoch: float) -> list[dict[str, Any]]:
    """The portal's events without the clock move that put it on the run's axis (before the epoch;
    a scheduled clock jump is at or after it)."""
    return [e for e in events if not (e.get("event") == "clock_advanced" and float(e.get("wall", 0.0)) < epoch)]


def wait_locust(locust: subprocess.Popen, max_wall_s: float) -> None:
    deadline = time.time() + max_wall_s
    while locust.poll() is None:
        if time.time() > deadline:
            os.killpg(locust.pid, signal.SIGTERM)
            locust.wait(timeout=60)
            break
        try:
            locust.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass


def stop_locust(locust: subprocess.Popen | None) -> None:
    if locust and locust.poll() is None:
        try:
            os.killpg(locust.pid, signal.SIGTERM)
            locust.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            locust.kill()
            locust.wait(timeout=30)


def put_faults(inbox_url: str, plan: dict[str, Any]) -> None:
    import urllib.request

    req = urllib.request.Request(inbox_url + "/api/v1/faults", data=json.dumps(plan).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30):
            pass
    except OSError as exc:
        raise LoadStartError(f"cannot set the inbox fault plan at {inbox_url}: {exc}") from None
