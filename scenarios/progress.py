"""Live progress of a run: scenario time, logins ok/failed, current faults, violations so far.

It reads the portal's event log incrementally (white box) and the nemesis record; one line
every couple of seconds, rewritten in place on a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import collect
from .nemesis import Nemesis
from .spec import Scenario


class Progress:
    """Background reporter; never fails the run (a missed update is only a missed update)."""

    def __init__(self, sc: Scenario, *, epoch: float, portal_url: Callable[[], str] | None,
                 nemesis: Nemesis, quiet: bool = False, every_s: float = 2.0):
        self.sc, self.epoch, self.portal_url, self.nemesis = sc, epoch, portal_url, nemesis
        self.quiet, self.every_s = quiet, every_s
        self.counts: Counter[str] = Counter()
        self.after = 0
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
        if not self.portal_url:
            return
        try:
            events = collect.portal_events(self.portal_url(), after=self.after)
        except collect.CollectError:
            return  # portal down (kill -9 window) or busy: try again next tick
        for ev in events:
            self.counts[ev.get("event", "?")] += 1
            self.after = max(self.after, int(ev.get("id", 0)))

    def active_faults(self, st: float) -> list[str]:
        names = [f"{r['kind']}" for r in self.sc.faults
                 if float(r.get("start", 0)) <= st < float(r.get("end", self.sc.duration))]
        return names

    def line(self) -> str:
        st = min(self.sc.duration, max(0.0, (time.time() - self.epoch) * self.sc.time_scale))
        c = self.counts
        faults = ",".join(self.active_faults(st)) or "none"
        ok = c["verify_ok"] + c["affiliate_login"]
        return (f"[{self.sc.name}] {st:6.0f}/{self.sc.duration:.0f} s scenario "
                f"({time.time() - self.epoch:5.1f} s wall)  users {self.sc.users}  sign-ins ok {ok}  "
                f"code failures {c['verify_fail']}  logins refused {c['login_failed']}  "
                f"faults {faults}  nemesis errors {len(self.nemesis.errors)}")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._poll()
            text = self.line()
            sys.stderr.write(("\r" + text[:200]) if self._tty else text + "\n")
            sys.stderr.flush()


def summarize_counts(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e.get("event", "?") for e in events)
