"""The Locust user classes: one per registered persona, all running the same task.

A user takes its own account, builds its client steps (`steps.Steps`: browser, inbox reader,
history) and lets its persona (`persona_base.Persona`, the decisions) run one login
transaction per task. Each transaction ends with one `flow` line in the history and feeds the
flow metrics. Timings are scenario seconds converted with the run's time scale; every loop is
bounded. The classes are made from `persona_registry` and keep the persona classes' names
(`Careful`, `Hasty`, …), which Locust shows and its `--class-picker` lists.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from gevent import GreenletExit
from locust import task
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.exception import StopUser

from . import decisions, runtime
from .accounts import AccountsError
from .inbox_client import MAX_WAIT, InboxClient, WaitError
from .persona_base import Persona
from .persona_registry import PERSONA_CLASSES
from .portal_client import PortalClient
from .redirects import LoopWatch
from .steps import FlowState, Steps

log = logging.getLogger("mfa_harness.loadtests.personas")


class MfaUser(FastHttpUser):
    """Base of every persona's user class: account, client steps, and the flow task."""

    abstract = True
    persona_class: type[Persona] = Persona
    persona = "base"
    programs: tuple[str, ...] = Persona.programs
    network_timeout = 60.0
    connection_timeout = 30.0
    max_retries = 0

    def wait_time(self) -> float:
        h = runtime.harness(self.environment)
        if h.arrivals is not None:
            return 0.0
        return h.timebase.wall_seconds(self.rng.uniform(*self.persona_class.pause_st))

    def on_start(self) -> None:
        h = runtime.harness(self.environment)
        self.h = h
        self.rng = random.Random()
        try:
            account = h.take_account(self.programs)
        except AccountsError as exc:
            h.note_accounts_error(exc)
            account = None
        self.person = self.persona_class(self.rng)
        if account is None:
            h.note_no_account(self.persona, self.programs)
            self.idle = True            # stopped quietly at its first task (StopUser in on_start logs a traceback)
            return
        self.idle = False
        self.rng = decisions.user_rng(getattr(h.opts, "seed", None), self.persona, account.username)
        self.person.attach(self._steps(h, account), self.rng)

    def _steps(self, h: Any, account: Any) -> Steps:
        """This user's client steps: its browser on Locust's session, its inbox reader, its history."""
        rec = h.recorder(self.persona, account.username)
        loops = LoopWatch(window_s=h.timebase.wall_seconds(h.opts.loop_window))
        portal = PortalClient(self.client, h.profile, loops,
                              fresh_connections=bool(getattr(h.opts, "fresh_connections", False)))
        session = FastHttpSession(h.inbox_url, request_event=h.inbox_event, user=None,
                                  network_timeout=MAX_WAIT + 30.0, connection_timeout=30.0, max_retries=0)
        session.client.cookiejar = None         # the inbox API sets no cookies: skip the jar per request
        return Steps(h, account, rec, portal, InboxClient(session, h.profile), loops, self.persona_class.by_ref)

    @task
    def one_flow(self) -> None:
        h = self.h
        if self.idle:
            raise StopUser()
        if h.arrivals is not None and not h.arrivals.wait_turn():
            return
        steps = self.person.s
        self.person.flows += 1
        fs = FlowState(steps.rec.new_flow())
        steps.loops.reset()
        steps.portal.allow_cookies()
        steps.portal.clear_cookies()
        try:
            outcome = self.person.flow(fs)
        except (GreenletExit, StopUser):
            self.finish(fs, "stopped", completed=False)
            raise
        except WaitError as exc:
            log.warning("%s: inbox error: %s", self.persona, exc)
            outcome = "error"
        except Exception:
            # a bug or an unexpected page: the operation already recorded `info`; the flow ends as error
            log.exception("%s flow %s failed", self.persona, fs.flow)
            outcome = "error"
        self.finish(fs, outcome)

    def finish(self, fs: FlowState, outcome: str, completed: bool = True) -> None:
        duration = time.time() - fs.start
        value = {"outcome": outcome, "duration_s": round(duration, 6),
                 "duration_st": round(self.h.timebase.scenario_seconds(duration), 6), "resends": fs.resends,
                 "code_wait_s": round(fs.code_wait, 6) if fs.waited else None,
                 "delivery_delay_s": None if fs.delivery is None else round(fs.delivery, 6)}
        rec = self.person.s.rec
        if not completed:
            rec.line("info", "flow", value)
            return
        rec.line("ok" if outcome == "ok" else "fail", "flow", value)
        self.h.record_flow(outcome, duration, fs.resends, fs.code_wait if fs.waited else None, fs.delivery)


def user_class(persona: type[Persona]) -> type[MfaUser]:
    """The Locust user class of a persona (same class name, its docstring)."""
    attrs = {"__module__": __name__, "__doc__": persona.__doc__, "__qualname__": persona.__name__,
             "persona_class": persona, "persona": persona.name, "programs": persona.programs}
    return type(persona.__name__, (MfaUser,), attrs)


PERSONAS: dict[str, type[MfaUser]] = {name: user_class(cls) for name, cls in PERSONA_CLASSES.items()}
__all__ = [cls.__name__ for cls in PERSONAS.values()]
globals().update({cls.__name__: cls for cls in PERSONAS.values()})   # `from mfa_harness.loadtests.personas import Careful`
