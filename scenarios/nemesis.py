"""The runner's nemesis: its actions, one class each in one registry, and the thread that runs them.

Inbox faults are applied by the inbox itself from its fault plan (it knows scenario time);
here we only record their windows as nemesis lines, and carry out what only the runner can do.

A `[[nemesis]]` table of a scenario file becomes an instance of its action's class: the class's
fields are the keys the table may carry (and the JSON Schema's), so a key that belongs to another
action, a misspelt one or a value of the wrong type is refused when the file loads, not ignored.
Adding an action is one subclass of `NemesisAction` (scenarios/README.md, "Adding a nemesis action").
"""

from __future__ import annotations

import math
import random
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, dataclass_transform

from mfa_harness.harness_http import call_json
from mfa_harness.server.mail import AddressError, validate_address
from mfa_harness.server.population import PROGRAMS

ACTIONS: dict[str, type[NemesisAction]] = {}   # action name -> class; filled by subclassing NemesisAction
TOML_TYPES: dict[type, tuple[type, ...]] = {float: (int, float), int: (int,), str: (str,)}


def setting(default: Any = MISSING, *, doc: str, minimum: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A key of a nemesis step: its default (none: required), what it means, and its bounds.
    The parser and the JSON Schema both read these."""
    return field(default=default, metadata={"doc": doc, "minimum": minimum, "choices": choices})


class StepError(ValueError):
    """A `[[nemesis]]` table its action refuses. `key` is the offending key (None: the table), and
    `word`/`known` a misspelling and what it may have meant, so the caller can point at the line."""

    def __init__(self, key: str | None, what: str, *, word: str | None = None, known: tuple[str, ...] = ()):
        super().__init__(what)
        self.key, self.word, self.known = key, word, known


@dataclass_transform(kw_only_default=True, field_specifiers=(setting, field))
@dataclass(kw_only=True)
class NemesisAction:
    """One scheduled action at scenario time `at`. A subclass sets `name` (the `action` of the
    scenario file), declares its keys as `setting` fields and carries itself out in `run`; it
    becomes a dataclass and joins ACTIONS by being defined."""

    name: ClassVar[str]
    at: float = setting(doc="scenario seconds from the start of the load", minimum=0)
    action: str = field(init=False, default="")     # the name again, so vars(step) reads like the file

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(kw_only=True)(cls)
        if cls.name in ACTIONS:
            raise TypeError(f"two nemesis actions named {cls.name!r}")
        ACTIONS[cls.name] = cls

    def __post_init__(self) -> None:
        self.action = self.name

    @classmethod
    def settings(cls) -> list[Field[Any]]:
        """The keys a step of this action takes (besides `action`), `at` first."""
        return [f for f in fields(cls) if f.init]

    @classmethod
    def types(cls) -> dict[str, type]:
        return typing.get_type_hints(cls)

    def check(self) -> None:
        """Rules beyond one key's type and bounds; raise StepError(key, what)."""

    def run(self, nem: Nemesis) -> None:
        """Carry the action out; record a start and a stop line (`nem.record`) around it."""
        raise NotImplementedError


class ClockJump(NemesisAction):
    """The portal's clock jumps: expiry and limits must follow the portal's own time."""

    name = "clock-jump"
    by: float = setting(doc="scenario seconds the portal's clock moves (negative: back)")

    def run(self, nem: Nemesis) -> None:
        fault = {"kind": self.name, "by": self.by}
        nem.record("start", fault)
        nem.post("/_harness/clock", {"advance": self.by})
        nem.record("stop", fault)


class KillPortal(NemesisAction):
    """`kill -9` of the portal, restarted on the same port and database: nothing acknowledged is lost."""

    name = "kill-portal"
    down_for: float = setting(0.0, doc="scenario seconds before the restart", minimum=0)

    def run(self, nem: Nemesis) -> None:
        if nem.kill_portal is None or nem.restart_portal is None:
            raise RuntimeError("kill-portal needs the local stack (not available with --target)")
        fault = {"kind": self.name, "down_for": self.down_for}
        nem.record("start", fault)
        nem.kill_portal()
        nem.sleep(self.down_for)
        nem.restart_portal()
        nem.record("stop", fault)


class ChangeNotification(NemesisAction):
    """Support changes a partner's notification address (the old one was lost): codes follow it."""

    name = "change-notification"
    partner: str = setting("agency", doc="the program of the partner, one picked with the seed", choices=PROGRAMS)
    address: str = setting("", doc="the new address (empty: support-moved-<id>@new-inbox.example)")

    def check(self) -> None:
        if self.address:
            try:                        # the portal's own rule: what it would refuse in the middle of the run
                validate_address(self.address)
            except AddressError as exc:
                raise StepError("address", f"{exc}, got {self.address!r}") from None

    def run(self, nem: Nemesis) -> None:
        candidates = [a for a in nem.accounts if a.get("program") == self.partner]
        if not candidates:
            raise RuntimeError(f"no {self.partner} partner to change")
        target = nem.rng.choice(candidates)
        address = self.address or f"support-moved-{target['partner_id']}@new-inbox.example"
        fault = {"kind": self.name, "partner_id": target["partner_id"],
                 "old": target.get("notification_email"), "new": address}
        nem.record("start", fault)
        nem.post("/_harness/notification-email", {"partner_id": target["partner_id"], "address": address})
        nem.record("stop", fault)


def _value(cls: type[NemesisAction], f: Field[Any], value: Any) -> Any:
    """One key's value, checked against its field's type, bounds and choices."""
    kind = cls.types()[f.name]
    accepted = TOML_TYPES[kind]
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise StepError(f.name, f"expected {' or '.join(k.__name__ for k in accepted)}, "
                                f"got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise StepError(f.name, f"must be a finite number, got {value!r}")
    minimum, choices = f.metadata["minimum"], f.metadata["choices"]
    if minimum is not None and value < minimum:
        raise StepError(f.name, f"must be >= {minimum:g}, got {value!r}")
    if choices is not None and value not in choices:
        raise StepError(f.name, f"must be one of {', '.join(choices)}, got {value!r}", word=value, known=choices)
    return kind(value)


def parse_step(table: Any, duration: float) -> NemesisAction:
    """One `[[nemesis]]` table as its action's object; StepError names the key that is wrong."""
    if not isinstance(table, dict):
        raise StepError(None, f"expected a table with `at` and `action`, got {type(table).__name__}")
    known = tuple(ACTIONS)
    name = table.get("action")
    if not isinstance(name, str):
        raise StepError("action" if "action" in table else None,
                        f"needs action = one of {', '.join(known)}" + (f", got {name!r}" if name is not None else ""))
    cls = ACTIONS.get(name)
    if cls is None:
        raise StepError("action", f"unknown action {name!r} (known: {', '.join(known)})", word=name, known=known)
    keys = tuple(f.name for f in cls.settings())
    for key in table:
        if key != "action" and key not in keys:
            raise StepError(key, f"{name} takes no key {key!r} (its keys: {', '.join(keys)})", word=key, known=keys)
    values = {f.name: _value(cls, f, table[f.name]) for f in cls.settings() if f.name in table}
    if "at" in values and not values["at"] <= duration:
        raise StepError("at", f"needs 0 <= at <= duration ({duration:g}), got {values['at']!r}")
    for f in cls.settings():
        if f.name not in values and f.default is MISSING:
            raise StepError(None, f"{name} needs {f.name} ({f.metadata['doc']})")
    step = cls(**values)
    step.check()
    return step


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


class Nemesis:
    """Runs the steps at their scenario times in a background thread; records every action.
    What an action may use: `record`, `post`, `sleep`, `kill_portal`/`restart_portal` (None
    against a target), `accounts` and `rng` (seeded)."""

    def __init__(self, steps: list[NemesisAction], *, epoch: float, time_scale: float, seed: int,
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

    def record(self, op: str, fault: dict[str, Any]) -> None:
        """A nemesis line (`start`, `stop` or `error`) stamped now, on both time axes."""
        now = time.time()
        with self._lock:
            self.lines.append({"src": "nemesis", "type": "info", "op": op, "fault": fault,
                               "wall": now, "st": (now - self.epoch) * self.scale})

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body to the portal (its current URL: a restart may have moved it)."""
        return call_json("POST", self.portal_url() + path, body)

    def sleep(self, scenario_seconds: float) -> None:
        """Wait this long in scenario time, or less when the run is stopping."""
        self._stop.wait(scenario_seconds / self.scale)

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
                step.run(self)
            except Exception as exc:  # noqa: BLE001 - a failed action is reported in the verdict, not fatal
                self.errors.append(f"{step.action} at {step.at:g}: {exc}")
                self.record("error", {"kind": step.action, "error": str(exc)})
