"""The run record: what a run was asked and what it did, written as `run.json` and read back by `check`.

One typed record instead of a dict of ~28 keys read back with `.get()`: the runner fills it as the
parts report (epoch, phases, Locust's exit, the load's facts), `to_json` writes `run.json` with
the same keys as always, and `from_json` reads one back, older files included (a key missing
from an older run.json takes its default), so `mfa-harness check` needs nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of `data` that are fields of `cls` (a newer run.json's extra keys are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class LoadFacts:
    """What the load actually did, from Locust's summary: users asked and reached, workers, early stop."""

    users_asked: int | None = None
    users_peak: int | None = None
    workers_asked: int = 0
    workers_reported: int = 0
    run_time_asked_s: float | None = None
    run_time_s: float | None = None
    stopped_early: str | None = None
    allow_partial: bool = False

    @classmethod
    def from_summary(cls, summary: dict[str, Any] | None, *, users: int, workers: int,
                     allow_partial: bool) -> LoadFacts:
        run = (summary or {}).get("run") or {}
        return cls(users_asked=users, users_peak=run.get("users_peak"), workers_asked=workers,
                   workers_reported=len((summary or {}).get("workers_reported") or []),
                   run_time_asked_s=run.get("run_time_asked_s"), run_time_s=run.get("run_time_s"),
                   stopped_early=run.get("stopped_early"), allow_partial=allow_partial)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadFacts:
        facts = cls(**_known(cls, data))
        facts.workers_asked = facts.workers_asked or 0         # null in a hand-written file
        facts.workers_reported = facts.workers_reported or 0
        return facts

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def problems(self) -> list[str]:
        """A load smaller or shorter than asked (workers lost, Locust stopped early) is a problem unless
        the scenario says `[load] allow_partial = true`."""
        if self.allow_partial:
            return []
        problems = []
        asked, peak = self.users_asked, self.users_peak
        if isinstance(asked, int) and isinstance(peak, int) and peak < asked:
            problems.append(f"only {peak} of {asked} users ran at the peak")
        if self.workers_asked and self.workers_reported < self.workers_asked:
            problems.append(f"only {self.workers_reported} of {self.workers_asked} Locust workers reported their results")
        if self.stopped_early:
            problems.append(f"Locust stopped early: after {self.run_time_s} of "
                            f"{self.run_time_asked_s} wall seconds ({self.stopped_early})")
        return problems


@dataclass
class RunRecord:
    """`run.json`: the scenario as run, the target's facts and what the parts reported. Field order is
    the file's key order; `policy_source`, `policy_origins`, `policy_not_judged` and `max_error_share`
    are written only when set."""

    scenario: str = "?"
    scenario_file: str = ""
    seed: Any = None
    time_scale: float = 1.0
    duration: float | None = None
    epoch: float = 0.0                       # wall time of scenario time 0 (when the load began)
    white_box: bool = True                   # the local reference stack: its event log is evidence too
    policy: dict[str, Any] = field(default_factory=dict)
    policy_source: str | None = None         # --target: where the judged policy came from
    # checker key -> {"from", "key", "said"}: the rules the scenario's or the target profile's [policy] set
    policy_origins: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy_not_judged: dict[str, Any] = field(default_factory=dict)   # the profile's descriptive keys
    partners: int | None = None
    population: list[str] = field(default_factory=list)
    fault_plan: dict[str, Any] = field(default_factory=dict)
    nemesis: list[dict[str, Any]] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=lambda: {"violations": 0})
    strict: bool = False
    accounts: list[dict[str, Any]] = field(default_factory=list)
    users: int | None = None
    max_error_share: float | None = None     # None: mfa_harness.scenarios.server_answers.DEFAULT_MAX_ERROR_SHARE
    workers: int = 0
    processes: int = 1
    locust_exit: int | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    thresholds_asked: list[str] = field(default_factory=list)
    load: LoadFacts | None = None
    nemesis_errors: list[str] = field(default_factory=list)
    command: str = ""
    portal_restarts: int = 0
    phases: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """A record from run.json (or any part of one: what is missing takes its default)."""
        known = _known(cls, data)
        load = known.pop("load", None)
        record = cls(**{k: v for k, v in known.items() if v is not None or k in _NULLABLE})
        record.load = LoadFacts.from_json(load) if load else None
        return record

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (f.name in _WHEN_SET and not value) or (f.name == "max_error_share" and value is None):
                continue
            out[f.name] = value.to_json() if isinstance(value, LoadFacts) else value
        return out


_WHEN_SET = {"policy_source", "policy_origins", "policy_not_judged"}
_NULLABLE = {"seed", "duration", "policy_source", "partners", "users", "max_error_share", "locust_exit"}
