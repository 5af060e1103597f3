"""Scenario files: parse and validate the TOML that describes one run.

A scenario speaks scenario time (seconds). Every error names the file, the line and what is
wrong, because scenario files are written by hand and a silent default is a wrong run.
"""

from __future__ import annotations

import difflib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfa_harness.checker import INVARIANT_NAMES
from mfa_harness.checker.policy import CHECKER_ALIASES
from mfa_harness.fake_smtp.faults import PlanError, parse_rule
from mfa_harness.loadtests.options import MAX_TIME_SCALE
from mfa_harness.loadtests.persona_registry import PERSONA_NAMES
from mfa_harness.loadtests.thresholds import ThresholdError
from mfa_harness.loadtests.thresholds import parse as parse_threshold
from mfa_harness.server.policy import PolicyError, policy_from_mapping
from mfa_harness.server.population import PROGRAMS, Mix, MixError, parse_mix, parse_team_size

CATALOG_DIR = Path(__file__).parent / "catalog"

NEMESIS_ACTIONS = ("clock-jump", "kill-portal", "change-notification")
# `[policy]` takes the portal's own keys (server/policy.py), since it becomes the portal's
# `--policy` file; the checker's names for the two lifetimes are accepted as aliases.
POLICY_ALIASES = CHECKER_ALIASES
TOP_KEYS = ("name", "description", "seed", "time_scale", "duration", "bugs", "population", "load", "portal",
            "personas", "policy", "faults", "nemesis", "thresholds", "expect")
MAX_DURATION = 7 * 86_400.0    # scenario seconds (a week)
MAX_USERS = 10_000


def did_you_mean(word: str, known: list[str] | tuple[str, ...]) -> str:
    """'; did you mean 'x'?' for a near miss among `known`, else ''."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message says file, line and what is wrong."""


@dataclass
class NemesisStep:
    """One scheduled action of the runner's nemesis, at a scenario time."""

    at: float
    action: str
    by: float = 0.0            # clock-jump: scenario seconds
    down_for: float = 0.0      # kill-portal: scenario seconds before the restart
    partner: str = "agency"    # change-notification: which kind of partner
    address: str = ""          # change-notification: new address ("" = generated)


@dataclass
class Scenario:
    """Everything a run needs, in scenario time."""

    name: str
    description: str
    path: Path
    seed: int = 1
    time_scale: float = 30.0
    duration: float = 300.0
    partners: int = 40
    population: list[str] = field(default_factory=list)   # portal seeding options: --mix, --team-size
    users: int = 10
    spawn_rate: float = 10.0
    arrival_rate: float | None = None
    processes: int = 1
    personas: dict[str, float] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    nemesis: list[NemesisStep] = field(default_factory=list)
    thresholds: list[str] = field(default_factory=list)
    expect_invalid: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    locust_args: list[str] = field(default_factory=list)
    allow_partial: bool = False    # [load] allow_partial: an early stop or fewer users is not a problem

    @property
    def expected(self) -> dict[str, Any]:
        """The `expected` block of the verdict: no violations, or these invariants invalid."""
        if self.expect_invalid:
            return {"invalid": list(self.expect_invalid)}
        return {"violations": 0}

    @property
    def wall_duration(self) -> float:
        return self.duration / self.time_scale


def _line_of(text: str, key: str, table: str | None = None) -> int:
    """Best line number for `key` (inside `[table]` when given); 1 when not found."""
    lines = text.splitlines()
    start = 0
    if table:
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*$")
        for i, line in enumerate(lines):
            if header.match(line):
                start = i
                break
    pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for i in range(start, len(lines)):
        if pat.match(lines[i]):
            return i + 1
    return start + 1


def _table_line(text: str, key: str) -> int:
    """Line of `[key]`, `[[key]]` or `key =` at the top level; 1 when not found."""
    pat = re.compile(r"^\s*(\[\[?\s*" + re.escape(key) + r"\s*[\].]|" + re.escape(key) + r"\s*=)")
    for i, line in enumerate(text.splitlines()):
        if pat.match(line):
            return i + 1
    return 1


def _value_line(text: str, key: str, value: str) -> int:
    """Line holding the string `value` of the array `key` (which may span lines)."""
    start = _line_of(text, key)
    lines = text.splitlines()
    for i in range(start - 1, len(lines)):
        if value in lines[i]:
            return i + 1
    return start


def fault_line(path: Path, index: int, key: str) -> int:
    """Line of `key` in the `index`-th [[faults]] block of the file at `path` (1 if unreadable)."""
    try:
        return _block_line(path.read_text(encoding="utf-8"), "faults", index, key)
    except (OSError, UnicodeDecodeError):
        return 1


def _check_window(path: Path, text: str, i: int, rule: dict[str, Any], duration: float) -> None:
    """A fault window must lie in [0, duration]: one that starts before 0 or ends after the scenario
    would silently act differently from what the file says."""
    for key in ("start", "end"):
        value = rule.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= duration:
            raise ScenarioError(f"{path}:{_block_line(text, 'faults', i, key)}: faults[{i}].{key}: {value:g} is "
                                f"outside the scenario (0 to duration {duration:g} scenario seconds)")


def _block_line(text: str, table: str, index: int, key: str | None = None) -> int:
    """Line of `key` in the `index`-th `[[table]]` block (of its header when `key` is absent there)."""
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]\s*$")
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    if index >= len(starts):
        return _line_of(text, key or table, table)
    start = starts[index]
    if key:
        pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if pat.match(lines[i]):
                return i + 1
    return start + 1


class _Reader:
    """Typed access to one TOML table with file/line-aware errors."""

    def __init__(self, path: Path, text: str, data: dict[str, Any], table: str | None = None):
        self.path, self.text, self.data, self.table = path, text, data, table
        self.used: set[str] = set()

    def fail(self, key: str, what: str) -> ScenarioError:
        where = f"{self.table}.{key}" if self.table else key
        return ScenarioError(f"{self.path}:{_line_of(self.text, key, self.table)}: {where}: {what}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, positive: bool = False):
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"expected {names}, got {type(value).__name__} {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be > 0, got {value!r}")
        return value

    def bounded(self, key: str, value: float, maximum: float) -> float:
        """`value` (already read) or an error naming the upper bound."""
        if not value <= maximum:
            raise self.fail(key, f"must be <= {maximum:g}, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known: {', '.join(sorted(self.used))})"
                                        + did_you_mean(unknown[0], sorted(self.used)))


def _population_args(pop: _Reader) -> list[str]:
    """`programs = {agency = 0.5, ...}` and `team_size = 3 | [2, 4]` as the portal's seeding options,
    checked by the portal's own parser."""
    programs = pop.get("programs", dict, None)
    team = pop.get("team_size", (int, list), None)
    mix = Mix()
    try:
        if programs is not None:
            unknown = sorted(set(programs) - set(PROGRAMS))
            if unknown:
                raise MixError(f"unknown program {unknown[0]!r} (known: {', '.join(PROGRAMS)})")
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in programs.values()):
                raise MixError(f"weights must be numbers, got {programs}")
            mix = parse_mix(",".join(f"{k}={v}" for k, v in programs.items()) or "agency=0")
    except MixError as exc:
        raise pop.fail("programs", str(exc)) from None
    try:
        if team is not None:
            if isinstance(team, list) and (len(team) != 2 or not all(type(x) is int for x in team)):
                raise MixError(f"expected N or [MIN, MAX] of integers, got {team!r}")
            lo, hi = (team, team) if isinstance(team, int) else team
            mix = parse_team_size(f"{lo}-{hi}", mix)
    except MixError as exc:
        raise pop.fail("team_size", str(exc)) from None
    return mix.as_args() if programs is not None or team is not None else []


def _portal_policy(pol: _Reader) -> dict[str, Any]:
    """`[policy]` under the portal's key names, each checked by the portal's own loader, so a
    scenario never starts a portal that would refuse its policy file."""
    out: dict[str, Any] = {}
    for key, value in pol.data.items():
        name = POLICY_ALIASES.get(key, key)
        if name in out:
            raise pol.fail(key, f"given twice (as {name!r} and its alias)")
        try:
            policy_from_mapping({name: value})
        except PolicyError as exc:
            raise pol.fail(key, str(exc)) from None
        out[name] = value
    try:
        policy_from_mapping(out)
    except PolicyError as exc:    # a rule between keys
        raise pol.fail(next(iter(pol.data)), str(exc)) from None
    return out


def resolve(name_or_path: str) -> Path:
    """A catalogue name (`smoke`) or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"{name_or_path}: no such scenario file")
        return candidate
    path = CATALOG_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(CATALOG_DIR.glob("*.toml")))
        raise ScenarioError(f"unknown scenario {name_or_path!r} (known: {known})")
    return path


def catalog() -> list[Scenario]:
    """Every scenario of the catalogue, sorted by file name."""
    return [load(p) for p in sorted(CATALOG_DIR.glob("*.toml"))]


def load(name_or_path: str | Path) -> Scenario:
    """Parse and validate a scenario; raises ScenarioError with file:line on any mistake."""
    path = resolve(str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file (a scenario is TOML)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    top = _Reader(path, text, data)
    for key in data:                    # before anything else: a misspelled table explains what follows
        if key not in TOP_KEYS:
            value = data[key]
            kind = "table" if isinstance(value, dict) or (isinstance(value, list) and value and all(
                isinstance(x, dict) for x in value)) else "key"
            raise ScenarioError(f"{path}:{_table_line(text, key)}: unknown {kind} {key!r} "
                                f"(known: {', '.join(TOP_KEYS)}){did_you_mean(key, TOP_KEYS)}")
    name = top.get("name", str, path.stem)
    description = top.get("description", str)
    if not description:
        raise top.fail("description", "missing: every scenario says what it is for")
    sc = Scenario(name=name, description=description, path=path)
    sc.seed = top.get("seed", int, 1)
    sc.time_scale = top.bounded("time_scale", float(top.get("time_scale", (int, float), 30.0, positive=True)),
                                MAX_TIME_SCALE)
    sc.duration = top.bounded("duration", float(top.get("duration", (int, float), 300.0, positive=True)),
                              MAX_DURATION)
    sc.bugs = list(top.get("bugs", list, []))

    pop = _Reader(path, text, top.get("population", dict, {}), "population")
    sc.partners = pop.get("partners", int, 40, positive=True)
    sc.population = _population_args(pop)
    pop.finish()

    load_t = _Reader(path, text, top.get("load", dict, {}), "load")
    sc.users = int(load_t.bounded("users", load_t.get("users", int, 10, positive=True), MAX_USERS))
    sc.spawn_rate = float(load_t.get("spawn_rate", (int, float), sc.users, positive=True))
    rate = load_t.get("arrival_rate", (int, float), None, positive=True)
    sc.arrival_rate = float(rate) if rate is not None else None
    sc.locust_args = [str(a) for a in load_t.get("locust_args", list, [])]
    sc.allow_partial = bool(load_t.get("allow_partial", bool, False))
    load_t.finish()

    portal = _Reader(path, text, top.get("portal", dict, {}), "portal")
    sc.processes = portal.get("processes", int, 1, positive=True)
    portal.finish()

    personas = top.get("personas", dict, {})
    for key, weight in personas.items():
        if key not in PERSONA_NAMES:
            raise _Reader(path, text, personas, "personas").fail(
                key, f"unknown persona (known: {', '.join(sorted(PERSONA_NAMES))})"
                     + did_you_mean(key, sorted(PERSONA_NAMES)))
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise _Reader(path, text, personas, "personas").fail(key, f"weight must be a number >= 0, got {weight!r}")
    if not personas or not any(personas.values()):
        raise top.fail("personas", "at least one persona with a weight > 0 is required")
    sc.personas = {k: float(v) for k, v in personas.items()}

    sc.policy = _portal_policy(_Reader(path, text, top.get("policy", dict, {}), "policy"))

    faults = top.get("faults", list, [])
    for i, rule in enumerate(faults):
        if not isinstance(rule, dict) or "kind" not in rule:
            raise ScenarioError(f"{path}:{_block_line(text, 'faults', i, 'kind')}: faults[{i}]: each [[faults]] needs a kind")
        try:                                # the inbox's own rule parser: what it would refuse at start-up
            parse_rule(rule, i, "faults")
        except PlanError as exc:
            raise ScenarioError(f"{path}:{_block_line(text, 'faults', i, exc.field('field'))}: {exc}") from None
        _check_window(path, text, i, rule, sc.duration)
    sc.faults = [dict(r) for r in faults]

    for i, step in enumerate(top.get("nemesis", list, [])):
        nem = _Reader(path, text, step, "nemesis")
        action = nem.get("action", str)
        if action not in NEMESIS_ACTIONS:
            raise nem.fail("action", f"nemesis[{i}]: unknown action {action!r} (known: {', '.join(NEMESIS_ACTIONS)})")
        at = nem.get("at", (int, float))
        if at is None or at < 0 or at > sc.duration:
            raise nem.fail("at", f"nemesis[{i}]: needs 0 <= at <= duration ({sc.duration:g})")
        sc.nemesis.append(NemesisStep(
            at=float(at), action=action,
            by=float(nem.get("by", (int, float), 0.0)),
            down_for=float(nem.get("down_for", (int, float), 0.0)),
            partner=nem.get("partner", str, "agency"),
            address=nem.get("address", str, ""),
        ))
        nem.finish()
    sc.nemesis.sort(key=lambda s: s.at)

    thresholds = top.get("thresholds", list, [])
    if not all(isinstance(t, str) and t.strip() for t in thresholds):
        raise top.fail("thresholds", "must be a list of expressions such as \"flow.p95 < 8s\"")
    for expr in thresholds:             # Locust's own parser: what it would refuse after the stack started
        try:
            parsed = parse_threshold(expr)
        except ThresholdError as exc:
            raise ScenarioError(f"{path}:{_value_line(text, 'thresholds', expr)}: thresholds: {exc}") from None
        if parsed.deprecated:
            print(f"mfa-harness: warning: {path}:{_value_line(text, 'thresholds', expr)}: {parsed.deprecated}",
                  file=sys.stderr)
    sc.thresholds = list(thresholds)

    expect = _Reader(path, text, top.get("expect", dict, {}), "expect")
    violations = expect.get("violations", int, 0)
    invalid = expect.get("invalid", list, [])
    for inv in invalid:
        if inv not in INVARIANT_NAMES:
            raise expect.fail("invalid", f"unknown invariant {inv!r} (known: {', '.join(INVARIANT_NAMES)})")
    if violations != 0 and not invalid:
        raise expect.fail("violations", "only 0 is meaningful; list expected failures in expect.invalid")
    sc.expect_invalid = list(invalid)
    expect.finish()
    top.finish()
    return sc
