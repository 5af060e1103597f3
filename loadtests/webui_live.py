"""The MFA tab's data: one process's live view of the run, fed client lines, refreshed in the background.

Every client history line of the run passes through the process that serves the web UI (a worker
batches its lines to the master), so the tab is computed from those lines: `flow` lines give the
HDR percentiles and outcomes (the master only receives the workers' histograms at the very end),
`loop` lines the loops, and the lines themselves are what the invariant checker reads.

Cost is bounded and never paid per request: a background greenlet (`webui.Refresher`) folds new
lines in every `REFRESH_S` (cheap, incremental) and runs the checker only while somebody looks at
the tab, at most every `REFRESH_S` and never for more than a fifth of the time (it runs in a
thread of gevent's pool, so the load-generating greenlets keep running); requests only read the
cached result. The checker reads at most `MAX_CHECK_LINES` lines, and when the portal answers
`/_harness/events` (the reference portal in harness mode) its events are fetched incrementally
and the check becomes white-box. Locust's wiring (routes, listeners) is in `webui.py`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from mfa_harness.checker import CheckContext, check
from mfa_harness.harness_http import HttpError, request

from . import thresholds as thresholds_mod
from .metrics import HISTOGRAMS, OUTCOMES, FlowMetrics
from .webui_rows import PCTS, Series, invariant_cells, rows

log = logging.getLogger("mfa_harness.loadtests.webui")

REFRESH_S = 3.0              # wall seconds between refreshes of the cached tab data
WATCH_S = 30.0               # the checker runs mid-test only if the tab was read this recently
CHECK_SHARE = 0.2            # at most this share of wall time goes to the checker mid-test
MAX_CHECK_LINES = 150_000    # lines (client + portal) the live check keeps; later ones are only counted
MAX_PENDING = 500_000        # client lines waiting to be folded in; beyond that they are counted as lost
PORTAL_PAGE = 5000           # portal events per request
PORTAL_PAGES = 5             # requests per refresh (the rest comes at the next refresh)
PORTAL_TIMEOUT_S = 2.0       # wall seconds per portal request
PROBE_EVERY_S = 30.0         # a portal that did not answer /_harness/events is asked again this often
PORTAL_MARGIN_S = 60.0       # portal events this many wall seconds before the run started are still checked

Fetch = Callable[[str, float], bytes]
Runner = Callable[..., Any]


def http_get(url: str, timeout: float) -> bytes:
    """The body of a 200 answer to a GET (cooperative under gevent's monkey-patching); HttpError otherwise."""
    return request("GET", url, timeout=timeout).expect().body


def run_inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def check_merged(portal: list[dict[str, Any]], client: list[dict[str, Any]],
                 ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """The checker on portal and client lines merged by wall time, as in a run's `history.jsonl`.

    Sorting is part of the work handed to the thread (a master gets each worker's lines in batches).
    """
    return check(sorted([*portal, *client], key=lambda x: x.get("wall", 0.0)), ctx)


class LiveView:
    """The tab's data for one Locust process: fed client lines, refreshed in the background.

    `fetch` reads portal events and `run_check` runs the checker (gevent's thread pool in Locust,
    inline in unit tests); both are injected so the class is testable without Locust.
    """

    def __init__(self, *, portal_url: str | None, time_scale: Callable[[], float],
                 fetch: Fetch = http_get, run_check: Runner = run_inline,
                 clock: Callable[[], float] = time.time,
                 thresholds: Callable[[], list[Any]] = list, http_total: Callable[[], Any] = lambda: None) -> None:
        self.portal_url = (portal_url or "").rstrip("/") or None
        self.time_scale = time_scale
        self.thresholds, self.http_total = thresholds, http_total
        self.fetch, self.run_check, self.clock = fetch, run_check, clock
        self.pending: deque[str] = deque()
        self.lock = gevent.lock.Semaphore()
        self.wake = gevent.event.Event()     # set when somebody starts looking: refresh now, not in REFRESH_S
        self.watched_at = -1e18
        self.portal_lines: list[dict[str, Any]] = []
        self.portal_after = 0
        self.portal_ok: bool | None = None              # None: not asked yet
        self.portal_asked = -1e18
        self.policy: dict[str, Any] = {}
        self.portal_caught_up = True
        self.white_box = False
        self.reset()

    # ---- input -------------------------------------------------------------------------------------
    def feed(self, line: str) -> None:
        """One encoded client line (called for every line the history sink gets: O(1))."""
        if len(self.pending) < MAX_PENDING:
            self.pending.append(line)
        else:
            self.lost += 1

    def reset(self) -> None:
        """A new test run: client-side numbers start again; recent portal events are kept."""
        self.pending.clear()
        self.metrics = FlowMetrics()
        self.series = Series()
        self.client_lines: list[dict[str, Any]] = []
        self.client_seen = 0
        self.unchecked = 0
        self.lost = 0
        self.loops: Counter[str] = Counter()
        self.started = self.clock()
        # a portal that has been up for long has a long log: the run's check needs its recent part only
        # (`portal_started` is kept for the policy it announces)
        self.portal_since = self.started - PORTAL_MARGIN_S
        self.portal_lines = [x for x in self.portal_lines
                             if x.get("wall", 0.0) >= self.portal_since or x.get("event") == "portal_started"]
        self.checked_at: float | None = None
        self.check_cost = 0.0
        self.check_lines = 0
        self.check_final = False
        self.check_error: str | None = None
        self.results: dict[str, dict[str, Any]] = {}
        self.data: dict[str, Any] = self.build(state="ready")

    def set_portal(self, url: str | None) -> None:
        """The portal of the next run (the web form may change it); another portal's events are dropped."""
        url = (url or "").rstrip("/") or None
        if url != self.portal_url:
            self.portal_url = url
            self.portal_lines, self.portal_after, self.policy = [], 0, {}
            self.portal_ok, self.portal_asked, self.portal_caught_up = None, -1e18, True

    def watched(self) -> None:
        """Somebody reads the tab: the checker may run (and runs right away if nobody looked lately)."""
        now = self.clock()
        if now - self.watched_at > WATCH_S:
            self.wake.set()
        self.watched_at = now

    # ---- refresh -----------------------------------------------------------------------------------
    def refresh(self, state: str, final: bool = False) -> None:
        """Fold new lines in, fetch portal events, maybe run the checker; rebuild the cached data."""
        with self.lock:
            self._drain()
            now = self.clock()
            if state in (STATE_RUNNING, STATE_SPAWNING) or final:
                self.series.close_window(now - self.started)
            due = (self.checked_at is None
                   or now - self.checked_at >= max(REFRESH_S, self.check_cost / CHECK_SHARE))
            if final or (due and now - self.watched_at <= WATCH_S):
                self._fetch_portal(final)
                self._check(final)
            self.data = self.build(state=state)

    def _drain(self) -> None:
        scale = self.time_scale()
        n = 0
        while self.pending:
            n += 1
            if n % 2000 == 0:
                gevent.sleep(0)     # a big backlog: let the users' greenlets run in between
            raw = self.pending.popleft()
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            self.client_seen += 1
            op, value = line.get("op"), line.get("value") or {}
            if op == "flow" and line.get("type") in ("ok", "fail"):
                self.metrics.record_flow(str(value.get("outcome")), float(value.get("duration_s") or 0.0), scale,
                                         int(value.get("resends") or 0), value.get("code_wait_s"),
                                         value.get("delivery_delay_s"))
                delivery = value.get("delivery_delay_s")
                self.series.add_flow(float(value.get("duration_s") or 0.0) * scale if value.get("outcome") == "ok"
                                     else None, None if delivery is None else float(delivery) * scale)
            elif op == "loop":
                self.loops["loops" if value.get("ended") == "loop" else "loop_breaker"] += 1
            if len(self.client_lines) + len(self.portal_lines) < MAX_CHECK_LINES:
                self.client_lines.append(line)
            else:
                self.unchecked += 1

    def _fetch_portal(self, final: bool) -> None:
        """New portal events (white box), bounded per refresh; a portal without the endpoint is left alone."""
        if self.portal_url is None:
            return
        now = self.clock()
        if self.portal_ok is not True and now - self.portal_asked < PROBE_EVERY_S and not final:
            return
        self.portal_asked = now
        self.portal_caught_up = False
        for _ in range(PORTAL_PAGES * (4 if final else 1)):
            url = f"{self.portal_url}/_harness/events?after={self.portal_after}&limit={PORTAL_PAGE}"
            try:
                rows = [json.loads(x) for x in self.fetch(url, PORTAL_TIMEOUT_S).splitlines() if x.strip()]
            except (HttpError, OSError, ValueError) as exc:
                if self.portal_ok is None:
                    log.info("portal does not answer %s (%s): the MFA tab checks client lines only (black box)",
                             url, exc)
                    self.portal_ok = False
                return
            if rows and not all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in rows):
                self.portal_ok = self.portal_ok or False
                return
            self.portal_ok = True
            for row in rows:
                row.setdefault("src", "portal")
                self.portal_after = max(self.portal_after, row["id"])
                if row.get("event") == "portal_started" and isinstance(row.get("policy"), dict):
                    self.policy = dict(row["policy"])
                if row.get("wall", 0.0) < self.portal_since and row.get("event") != "portal_started":
                    continue
                if len(self.client_lines) + len(self.portal_lines) < MAX_CHECK_LINES:
                    self.portal_lines.append(row)
                else:
                    self.unchecked += 1
            if len(rows) < PORTAL_PAGE:
                self.portal_caught_up = True
                return

    def _check(self, final: bool) -> None:
        white = bool(self.portal_ok and self.portal_lines)
        started = time.perf_counter()
        try:
            ctx = CheckContext(policy=dict(self.policy), white_box=white, time_scale=self.time_scale(),
                               fault_plan={}, bugs=[], accounts=None)
            self.results = self.run_check(check_merged, self.portal_lines if white else [], self.client_lines, ctx)
            self.check_error = None
        except Exception as exc:       # a checker failure must not take the web UI down; say it in the tab
            log.exception("live invariant check failed")
            self.check_error = f"{type(exc).__name__}: {exc}"[:300]
        self.check_cost = time.perf_counter() - started
        self.checked_at = self.clock()
        self.check_lines = len(self.client_lines) + (len(self.portal_lines) if white else 0)
        self.check_final = final
        self.white_box = white

    # ---- output ------------------------------------------------------------------------------------
    def build(self, state: str) -> dict[str, Any]:
        """The JSON the tab and `/mfa/data` serve (seconds for durations)."""
        m = self.metrics
        percentiles: dict[str, Any] = {}
        for name, (unit, desc) in HISTOGRAMS.items():
            row: dict[str, Any] = {"description": desc, "unit": "s" if unit == "ms" else "count",
                                   "axis": None if unit == "count" else "wall" if name.endswith("_wall") else "scenario",
                                   "count": m.hist[name].get_total_count()}
            for agg in PCTS:            # no mean: HDR walks its whole bucket array for it (~0.1 s)
                v = m.stat(name, agg)
                row[agg] = None if v is None else round(v, 3)
            percentiles[name] = row
        outcomes = {k: int(m.outcomes.get(k, 0)) for k in OUTCOMES}
        outcomes.update({k: int(v) for k, v in m.outcomes.items() if k not in outcomes})
        mode = "white box" if self.white_box else "black box"
        invariants = invariant_cells(self.results, mode=mode, checked_at=self.checked_at,
                                     live=state in (STATE_RUNNING, STATE_SPAWNING) and not self.check_final)
        return {
            "state": state, "updated": self.clock(), "run_started": self.started,
            "time_scale": self.time_scale(), "flows": m.flows(), "success_rate": m.success_rate(),
            "percentiles": percentiles, "outcomes": outcomes,
            "loops": {"loops": self.loops["loops"], "loop_breaker": self.loops["loop_breaker"]},
            "client_lines": self.client_seen, "lines_lost": self.lost,
            "check": {"mode": mode, "portal_events": len(self.portal_lines), "portal_caught_up": self.portal_caught_up,
                      "checked_at": self.checked_at,
                      "lines": self.check_lines, "final": self.check_final, "error": self.check_error,
                      "lines_not_checked": self.unchecked,
                      "runs_when": "the tab is open (every few seconds) and once when the test stops"},
            "invariants": invariants,
            "thresholds": self._thresholds(),
            "series": list(self.series.points),
        }

    def _thresholds(self) -> dict[str, dict[str, Any]]:
        """The run's thresholds with their value so far and whether they hold now (live)."""
        try:
            return thresholds_mod.evaluate(self.thresholds(), self.metrics, self.http_total())
        except Exception:      # a view: a threshold that cannot be evaluated must not break the tab
            log.exception("threshold evaluation for the MFA tab failed")
            return {}

    def rows(self) -> list[dict[str, Any]]:
        """The native tab's table (see webui_rows)."""
        return rows(self.data)
