"""The runner's nemesis: scheduled clock jumps, portal kill -9/restart and support actions.

Inbox faults are applied by the inbox itself from its fault plan (it knows scenario time);
here we only record their windows as nemesis lines, and carry out what only the runner can do.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from .spec import NemesisStep


def fault_window_lines(faults: list[dict[str, Any]], epoch: float, time_scale: float,
                       duration: float) -> list[dict[str, Any]]:
    """start/stop nemesis lines for each inbox fault rule, at the wall times of its window."""
    rows: list[dict[str, Any]] = []
    for i, rule in enumerate(faults):
        start = float(rule.get("start", 0.0))
        end = float(rule.get("end", duration))
        fault = {"kind": rule["kind"], "rule": i, **{k: v for k, v in rule.items() if k != "kind"}}
        for op, st in (("start", start), ("stop", min(end, duration))):
            rows.append({"src": "nemesis", "type": "info", "op": op, "fault": fault,
                         "st": st, "wall": epoch + st / time_scale})
    return rows


def post_json(url: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class Nemesis:
    """Runs the steps at their scenario times in a background thread; records every action."""

    def __init__(self, steps: list[NemesisStep], *, epoch: float, time_scale: float, seed: int,
                 portal_url: Callable[[], str], kill_portal: Callable[[], None] | None,
                 restart_portal: Callable[[], None] | None, accounts: list[dict[str, Any]]):
        self.steps = steps
        self.epoch, self.scale = epoch, time_scale
        self.portal_url = portal_url
        self.kill_portal, self.restart_portal = kill_portal, restart_portal
        self.accounts = accounts
        self.rng = random.Random(seed)
        self.lines: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._lock = threading.Lock()

    def _record(self, op: str, fault: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self.lines.append({"src": "nemesis", "type": "info", "op": op, "fault": fault,
                               "wall": now, "st": (now - self.epoch) * self.scale})

    def start(self) -> None:
        if self.steps:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def _wait_until_st(self, st: float) -> bool:
        """Wait for a scheduled instant; False when the run is stopping."""
        return not self._stop.wait(max(0.0, self.epoch + st / self.scale - time.time()))

    def _run(self) -> None:
        for step in self.steps:
            if not self._wait_until_st(step.at):
                return
            try:
                self._do(step)
            except Exception as exc:  # noqa: BLE001 - a failed action is reported in the verdict, not fatal
                self.errors.append(f"{step.action} at {step.at:g}: {exc}")
                self._record("error", {"kind": step.action, "error": str(exc)})

    def _do(self, step: NemesisStep) -> None:
        if step.action == "clock-jump":
            fault = {"kind": "clock-jump", "by": step.by}
            self._record("start", fault)
            post_json(self.portal_url() + "/_harness/clock", {"advance": step.by})
            self._record("stop", fault)
        elif step.action == "kill-portal":
            if self.kill_portal is None or self.restart_portal is None:
                raise RuntimeError("kill-portal needs the local stack (not available with --target)")
            fault = {"kind": "kill-portal", "down_for": step.down_for}
            self._record("start", fault)
            self.kill_portal()
            self._stop.wait(step.down_for / self.scale)
            self.restart_portal()
            self._record("stop", fault)
        elif step.action == "change-notification":
            candidates = [a for a in self.accounts if a.get("program") == step.partner]
            if not candidates:
                raise RuntimeError(f"no {step.partner} partner to change")
            target = self.rng.choice(candidates)
            address = step.address or f"support-moved-{target['partner_id']}@new-inbox.example"
            fault = {"kind": "change-notification", "partner_id": target["partner_id"],
                     "old": target.get("notification_email"), "new": address}
            self._record("start", fault)
            post_json(self.portal_url() + "/_harness/notification-email",
                      {"partner_id": target["partner_id"], "address": address})
            self._record("stop", fault)
