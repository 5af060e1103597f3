"""The "MFA" tab of Locust's web UI: Locust's side (routes, listeners, the refresher greenlet).

Only the process that serves the web UI (standalone, or the master of a distributed run) does
anything here; headless runs and workers are untouched. What the tab shows, and when the checker
runs, is `webui_live.LiveView`; its rows are `webui_rows`.

Locust's React UI (2.2x and later) shows extra tabs declared in `web_ui.template_args`
(`extended_tabs` + `extended_tables`) and fills them from an `extended_stats` entry in the
`/stats/requests` JSON it polls every two seconds while a test runs. The tab is one table;
`/mfa` is a self-contained page with everything (counter-examples included), refreshing itself
from `/mfa/data`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from locust import events

from .options import OptionsError, parse_personas
from .webui_live import REFRESH_S, LiveView
from .webui_rows import TABLE

log = logging.getLogger("mfa_harness.loadtests.webui")

TAB_KEY = "mfa"
PAGE = Path(__file__).with_name("webui_page.html")

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
    live = LiveView(portal_url=environment.host, time_scale=lambda: harness.timebase.scale,
                    run_check=_thread_check, thresholds=lambda: harness.thresholds,
                    http_total=lambda: environment.stats.total)
    harness.history.add_listener(live.feed)
    web_ui.template_args.update({
        "extended_tabs": [{"title": "MFA", "key": TAB_KEY}],
        "extended_tables": [{"key": TAB_KEY, "structure": TABLE}],
        "extended_csv_files": [{"href": "./mfa", "title": "MFA tab as a page (with invariant examples)"},
                               {"href": "./mfa/data", "title": "MFA tab data (JSON)"}],
    })
    _add_pages(web_ui, live, getattr(environment.parsed_options, "web_base_path", "") or "")
    _add_hooks(web_ui, live, lambda text: apply_personas(environment, harness, text), environment)
    _VIEW = live
    return live


def _add_pages(web_ui: Any, live: LiveView, base: str) -> None:
    """`/mfa` (the self-contained page) and `/mfa/data` (its JSON), under Locust's base path."""
    from flask import Blueprint, Response

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


def _add_hooks(web_ui: Any, live: LiveView, personas: Callable[[str], Any], environment: Any) -> None:
    """The start form's Personas field, and the tab's rows in the `/stats/requests` Locust's UI polls."""
    from flask import Response, jsonify, request

    @web_ui.app.before_request
    def personas_from_the_form() -> Any:
        # The start form's Personas field: its weights decide the user classes of the run it starts
        # (Locust itself only copies the text into parsed_options, after the classes were chosen).
        if request.method != "POST" or not request.path.endswith("/swarm") or "personas" not in request.form:
            return None
        try:
            personas(request.form.get("personas", ""))
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
