"""Wiring into Locust: options, the harness of each environment, and Locust's events.

At `init` the harness is built for the environment (`environment.mfa_harness`, see
`harness.py`) with the role of this process (`roles.py`: local, master or worker), and every
later event is handed to that role. A standalone runner writes history and summary itself. In
a distributed run (`--processes N`, or `--master`/`--worker`) workers batch their history lines
to the master over Locust's messaging (`mfa_history`); when the test stops, the master asks
every worker to stop its users and send what is left, with its encoded HDR histograms
(`mfa_flush`), waits for all of them (bounded), and only then writes the summary. So no line
is lost when a worker stops, and percentiles are merged exactly.
"""

from __future__ import annotations

import time
from typing import Any

from locust import events

from . import options as options_mod
from . import thresholds as thresholds_mod
from .distributed import MSG_CONFIG, MSG_FLUSH, MSG_HISTORY, forked_by_master
from .harness import ENV_ATTR, Harness, SideStats, harness_of
from .interrupt import catch_ctrl_c
from .profile import ProfileError, load_profile
from .roles import role_for
from .run_end import EXIT_FAILURES, EXIT_SETUP, fail_setup, sort_history_file

__all__ = ["EXIT_FAILURES", "EXIT_SETUP", "MSG_CONFIG", "MSG_FLUSH", "MSG_HISTORY", "Harness", "SideStats",
           "apply_weights", "forked_by_master", "harness", "on_init", "register", "sort_history_file"]


harness = harness_of      # `runtime.harness(environment)`: what a persona reaches as `self.h`


def apply_weights(environment: Any, weights: dict[str, float], personas: dict[str, type]) -> None:
    """Set user-class weights by persona name; classes left at 0 are not spawned."""
    ints = options_mod.integer_weights(weights)
    chosen = []
    for name, cls in personas.items():
        w = ints.get(name, 0)
        cls.weight = w
        if w > 0:
            chosen.append(cls)
    environment.user_classes = chosen


def _read_options(opts: Any, persona_names: list[str]) -> tuple[dict[str, float], Any, list[Any]]:
    """Weights, target profile and thresholds from the options; a mistake stops Locust with one line."""
    try:
        options_mod.check_options(opts)
        weights = options_mod.parse_personas(opts.personas, persona_names)
        profile = load_profile(opts.target_profile or None)
        thresholds = thresholds_mod.parse_all(opts.threshold)
    except (options_mod.OptionsError, ProfileError, thresholds_mod.ThresholdError) as exc:
        fail_setup(str(exc))
    return weights or {name: 1.0 for name in persona_names}, profile, thresholds


def on_init(environment: Any, runner: Any, **_: Any) -> None:
    """Build this environment's harness with the role of this process, before any load."""
    from .personas import PERSONAS

    opts = environment.parsed_options
    if opts is None:
        fail_setup("the mfa-harness needs Locust's command line (run `locust -f loadtests/locustfile.py`)")
    role = role_for(runner)
    weights, profile, thresholds = _read_options(opts, list(PERSONAS))
    if role.coordinates:
        apply_weights(environment, weights, PERSONAS)
        if not opts.inbox_url:
            fail_setup("--inbox-url is required (the inbox API the users read their codes from)")
        if not opts.epoch:
            opts.epoch = time.time()       # one scenario time axis for the master and all its workers
    h = Harness(environment, opts, profile, thresholds, weights, role)
    role.attach(h)
    catch_ctrl_c()                          # after attach: a forked worker has just ignored SIGINT
    role.check_target(h)
    setattr(environment, ENV_ATTR, h)


def _of(environment: Any) -> Harness | None:
    """The environment's harness, or None when `init` did not build one (not our locustfile's run)."""
    return getattr(environment, ENV_ATTR, None)


def on_test_start(environment: Any, **_: Any) -> None:
    h = _of(environment)
    if h is not None:
        h.role.test_start(h)


def on_test_stopping(environment: Any, **_: Any) -> None:
    h = _of(environment)
    if h is not None:
        h.role.test_stopping(h)


def on_test_stop(environment: Any, **_: Any) -> None:
    h = _of(environment)
    if h is not None:
        h.role.test_stop(h)


def on_quitting(environment: Any, **_: Any) -> None:
    h = _of(environment)
    if h is not None:
        h.role.quitting(h)


def register() -> None:
    """Attach the listeners (called once by the locustfile)."""
    events.init_command_line_parser.add_listener(options_mod.add_arguments)
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stopping.add_listener(on_test_stopping)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
