"""Live progress of a run: scenario time, logins ok/failed, current faults, violations so far.

It reads the portal's event log incrementally (white box) or, against a foreign portal (no
portal log), the clients' history file as Locust writes it, and the nemesis record; one line
every couple of seconds, rewritten in place on a terminal.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mfa_harness.checker import REGISTRY, CheckContext, Evidence, check

from . import collect
from .nemesis import Nemesis
from .spec import Scenario

# Invariants whose violations a partial portal log already proves: prefix-safe, and decided white box
# from portal events alone (the others need the end of the run, or client and inbox lines).
PARTIAL_SAFE = tuple(inv.name for inv in REGISTRY if inv.prefix_safe and not inv.missing(True, {Evidence.PORTAL}))


class ClientFlows:
    """Logins ok/failed so far from a growing client history file (JSON lines), read from where it stopped.

    Counted as the verdict's metrics count them: a `flow` line `ok` with outcome ok is a login, any
    other outcome but `unknown` a failed one; `info` flows (cut short) are neither.
    """

    def __init__(self, path: Path):
        self.path = path
        self.ok = self.failed = 0
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return  # not written yet
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("op") == "flow" and line.get("type") in ("ok", "fail"):
                value = line.get("value") if isinstance(line.get("value"), dict) else {}
                outcome = value.get("outcome")
                if outcome == "ok":
                    self.ok += 1
                elif outcome != "unknown":
                    self.failed += 1


class Progress:
    """Background reporter; never fails the run (a missed update is only a missed update)."""

    def __init__(self, sc: Scenario, *, epoch: float, portal_url: Callable[[], str] | None,
                 nemesis: Nemesis, quiet: bool = False, every_s: float = 2.0,
                 client_history: Path | None = None):
        self.sc, self.epoch, self.portal_url, self.nemesis = sc, epoch, portal_url, nemesis
        # without a portal log, logins come from the clients' own history
        self.client_flows = ClientFlows(client_history) if client_history and not portal_url else None
        self.quiet, self.every_s = quiet, every_s
        self.counts: Counter[str] = Counter()
        self.after = 0
        self.events: list[dict[str, Any]] = []
        self.violations: dict[str, int] = {}
        self._ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._tty = sys.stderr.isatty()

    def start(self) -> None:
        if not self.quiet:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
            if self._tty:
                sys.stderr.write("\n")

    def _poll(self) -> None:
        if self.client_flows:
            self.client_flows.poll()
        if not self.portal_url:
            return
        try:
            events = collect.portal_events(self.portal_url(), after=self.after)
        except collect.CollectError:
            return  # portal down (kill -9 window) or busy: try again next tick
        for ev in events:
            self.counts[ev.get("event", "?")] += 1
            self.after = max(self.after, int(ev.get("id", 0)))
        self.events.extend(events)

    def _check(self) -> None:
        """Violations so far, from the portal's log alone (white box, partial-safe invariants)."""
        policy = next((e.get("policy") for e in self.events if e.get("event") == "portal_started"), None) or {}
        ctx = CheckContext(policy=dict(policy), white_box=True, time_scale=self.sc.time_scale,
                           fault_plan={"rules": self.sc.faults}, bugs=list(self.sc.bugs), accounts=None)
        try:
            result = check(self.events, ctx)
        except ValueError:
            return  # a torn log mid-run; the final check reads the whole history
        self.violations = {k: int(result[k]["violations"]) for k in PARTIAL_SAFE
                           if k in result and result[k]["valid"] is False}

    def active_faults(self, st: float) -> list[str]:
        names = [f"{r['kind']}" for r in self.sc.faults
                 if float(r.get("start", 0)) <= st < float(r.get("end", self.sc.duration))]
        return names

    def line(self) -> str:
        st = min(self.sc.duration, max(0.0, (time.time() - self.epoch) * self.sc.time_scale))
        c = self.counts
        faults = ",".join(self.active_faults(st)) or "none"
        if self.client_flows:
            logins = f"logins ok {self.client_flows.ok}  failed {self.client_flows.failed}"
            bad = "n/a (no portal log)"
        else:
            ok = c["verify_ok"] + c["affiliate_login"]
            logins = f"sign-ins ok {ok}  code failures {c['verify_fail']}  logins refused {c['login_failed']}"
            bad = ",".join(f"{k}:{n}" for k, n in self.violations.items()) or "none"
        return (f"[{self.sc.name}] {st:6.0f}/{self.sc.duration:.0f} s scenario "
                f"({time.time() - self.epoch:5.1f} s wall)  users {self.sc.users}  {logins}  "
                f"faults {faults}  violations so far {bad}  nemesis errors {len(self.nemesis.errors)}")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._poll()
            self._ticks += 1
            if self.portal_url and self._ticks % 3 == 0 and len(self.events) < 300_000:
                self._check()
            text = self.line()
            sys.stderr.write(("\r" + text[:200]) if self._tty else text + "\n")
            sys.stderr.flush()


def summarize_counts(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e.get("event", "?") for e in events)
