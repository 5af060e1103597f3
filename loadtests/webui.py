"""The "MFA" tab of Locust's web UI: login-flow percentiles, outcomes and live invariant status.

Only the process that serves the web UI (standalone, or the master of a distributed run) does
anything here; headless runs and workers are untouched. Every client history line of the run
passes through that process (a worker batches its lines to the master), so the tab is computed
from those lines: `flow` lines give the HDR percentiles and outcomes (the master only receives
the workers' histograms at the very end), `loop` lines the loops, and the lines themselves are
what the invariant checker reads.

Locust's React UI (2.2x and later) shows extra tabs declared in `web_ui.template_args`
(`extended_tabs` + `extended_tables`) and fills them from an `extended_stats` entry in the
`/stats/requests` JSON it polls every two seconds while a test runs. The tab is one table;
`/mfa` is a self-contained page with everything (counter-examples included), refreshing itself
from `/mfa/data`.

Cost is bounded and never paid per request: a background greenlet folds new lines in every
`REFRESH_S` (cheap, incremental) and runs the checker only while somebody looks at the tab,
at most every `REFRESH_S` and never for more than a fifth of the time (it runs in a thread of
gevent's pool, so the load-generating greenlets keep running); requests only read the cached
result. The checker reads at most `MAX_CHECK_LINES` lines, and when the portal answers
`/_harness/events` (the reference portal in harness mode) its events are fetched incrementally
and the check becomes white-box.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.lock
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from scenarios.checker import INVARIANTS, CheckContext, check

from . import thresholds as thresholds_mod
from .metrics import HISTOGRAMS, OUTCOMES, FlowMetrics
from .options import OptionsError, parse_personas
from .webui_rows import PCTS, TABLE, Series, rows, unknown_reason

log = logging.getLogger("loadtests.webui")

TAB_KEY = "mfa"
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
PAGE = Path(__file__).with_name("webui_page.html")
# Invariants whose "invalid" cannot be undone by later lines: a violation in a prefix of the
# history stays one. The others (mail in flight, a rejection a later event explains) settle at the end.
PREFIX_SAFE = frozenset({"single_use", "expiry", "binding", "mfa_required", "affiliates", "resend_limits",
                         "attempt_limits", "no_login_loops"})

Fetch = Callable[[str, float], bytes]
Runner = Callable[..., Any]


def http_get(url: str, timeout: float) -> bytes:
    """GET a URL (cooperative under gevent's monkey-patching); raises OSError on failure."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


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
            except (OSError, ValueError, urllib.error.URLError) as exc:
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
        running = state in (STATE_RUNNING, STATE_SPAWNING)
        invariants = {
            name: {"status": {True: "valid", False: "invalid"}.get(r.get("valid"), "unknown"),
                   "violations": int(r.get("violations") or 0),
                   "provisional": bool(running and not self.check_final and name not in PREFIX_SAFE),
                   "example": (r.get("examples") or [None])[0]}
            for name, r in self.results.items()}
        for name in INVARIANTS:
            invariants.setdefault(name, {"status": "not checked yet", "violations": 0, "provisional": True,
                                         "example": None})
        check = {"mode": "white box" if self.white_box else "black box", "checked_at": self.checked_at}
        for name, r in invariants.items():
            r["why"] = unknown_reason(self.results.get(name, {}), check) if r["status"] != "valid" \
                and r["status"] != "invalid" else ""
        return {
            "state": state, "updated": self.clock(), "run_started": self.started,
            "time_scale": self.time_scale(), "flows": m.flows(), "success_rate": m.success_rate(),
            "percentiles": percentiles, "outcomes": outcomes,
            "loops": {"loops": self.loops["loops"], "loop_breaker": self.loops["loop_breaker"]},
            "client_lines": self.client_seen, "lines_lost": self.lost,
            "check": {"mode": "white box" if self.white_box else "black box",
                      "portal_events": len(self.portal_lines), "portal_caught_up": self.portal_caught_up,
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


# ---- Locust wiring --------------------------------------------------------------------------------
_VIEW: LiveView | None = None


def view() -> LiveView | None:
    """The web-UI process's view (None elsewhere)."""
    return _VIEW


class Refresher:
    """The background greenlet of one test run: refreshes every REFRESH_S, and once more at the end."""

    def __init__(self, live: LiveView, environment: Any) -> None:
        self.live, self.environment = live, environment
        self.stop_event = gevent.event.Event()
        self.greenlet = gevent.spawn(self._run)

    def _state(self) -> str:
        runner = self.environment.runner
        return str(getattr(runner, "state", "ready"))

    def _refresh(self, final: bool) -> None:
        try:
            self.live.refresh("stopped" if final else self._state(), final=final)
        except Exception:      # the tab is a view: never let it break the run
            log.exception("MFA tab refresh failed")

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.live.wake.wait(REFRESH_S)
            self.live.wake.clear()
            if not self.stop_event.is_set():
                self._refresh(final=False)

    def finish(self) -> None:
        self.stop_event.set()
        self.live.wake.set()
        self._refresh(final=True)


def _thread_check(fn: Callable[..., Any], *args: Any) -> Any:
    """Run the checker in gevent's thread pool: CPU-bound, it would otherwise stall every greenlet."""
    return gevent.get_hub().threadpool.apply(fn, args)


def install(environment: Any, web_ui: Any, harness: Any) -> LiveView:
    """Declare the tab, add the routes and listen to the client history (the web-UI process only)."""
    global _VIEW
    from flask import Blueprint, Response, jsonify, request

    live = LiveView(portal_url=environment.host, time_scale=lambda: harness.timebase.scale,
                    run_check=_thread_check, thresholds=lambda: harness.thresholds,
                    http_total=lambda: environment.stats.total)
    harness.history.add_listener(live.feed)
    base = getattr(environment.parsed_options, "web_base_path", "") or ""
    web_ui.template_args.update({
        "extended_tabs": [{"title": "MFA", "key": TAB_KEY}],
        "extended_tables": [{"key": TAB_KEY, "structure": TABLE}],
        "extended_csv_files": [{"href": "./mfa", "title": "MFA tab as a page (with invariant examples)"},
                               {"href": "./mfa/data", "title": "MFA tab data (JSON)"}],
    })
    bp = Blueprint("mfa_harness", __name__, url_prefix=base or None)

    @bp.route("/mfa")
    @web_ui.auth_required_if_enabled
    def mfa_page() -> Response:
        return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html")

    @bp.route("/mfa/data")
    @web_ui.auth_required_if_enabled
    def mfa_data() -> Response:
        live.watched()
        return Response(json.dumps(live.data, default=str), mimetype="application/json")

    web_ui.app.register_blueprint(bp)

    @web_ui.app.before_request
    def personas_from_the_form() -> Any:
        # The start form's Personas field: its weights decide the user classes of the run it starts
        # (Locust itself only copies the text into parsed_options, after the classes were chosen).
        if request.method != "POST" or not request.path.endswith("/swarm") or "personas" not in request.form:
            return None
        try:
            apply_personas(environment, harness, request.form.get("personas", ""))
        except OptionsError as exc:
            return jsonify({"success": False, "message": str(exc), "host": environment.host})
        return None

    @web_ui.app.after_request
    def add_tab_rows(response: Response) -> Response:
        # Locust's UI polls /stats/requests; the tab's rows travel in its `extended_stats`
        if not request.path.endswith("/stats/requests") or response.status_code != 200:
            return response
        live.watched()
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return response
        body["extended_stats"] = [{"key": TAB_KEY, "data": live.rows()}]
        response.set_data(json.dumps(body, default=str))
        return response

    _VIEW = live
    return live


def apply_personas(environment: Any, harness: Any, text: str) -> dict[str, float]:
    """Persona weights from the web form (empty: every persona, weight 1) onto the user classes."""
    from .personas import PERSONAS
    from .runtime import apply_weights

    weights = parse_personas(text, list(PERSONAS)) or {name: 1.0 for name in PERSONAS}
    apply_weights(environment, weights, PERSONAS)
    harness.weights = weights
    return weights


_REFRESHER: Refresher | None = None


def on_init(environment: Any, web_ui: Any = None, **_: Any) -> None:
    if web_ui is None:
        return                       # headless, or a worker: no tab
    from .runtime import harness
    install(environment, web_ui, harness(environment))


def on_test_start(environment: Any, **_: Any) -> None:
    global _REFRESHER
    if _VIEW is None:
        return
    if _REFRESHER is not None:
        _REFRESHER.stop_event.set()
        _VIEW.wake.set()
    with _VIEW.lock:
        _VIEW.reset()
        _VIEW.set_portal(environment.host)
    _REFRESHER = Refresher(_VIEW, environment)


def on_test_stop(environment: Any, **_: Any) -> None:
    if _VIEW is None or _REFRESHER is None:
        return
    gevent.spawn(_REFRESHER.finish)     # the final check must not hold up Locust's stop sequence


def register() -> None:
    """Attach the listeners (after `runtime.register()`: the tab listens to the harness's history)."""
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
