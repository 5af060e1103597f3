"""Fault plan: its rules, and the checks that refuse a plan that could not be carried out.

A plan is a list of rules (``kind``, optional ``to`` glob, optional ``start``/``end``
window in scenario seconds, kind-specific fields).  A bad rule raises ``PlanError`` whose
fields say which rule and which field, so the scenario-file checker can point at the line.
The decisions a plan makes while mail flows are ``mfa_harness.fake_smtp.fault_engine``.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

from mfa_harness.errors import SetupError

KINDS = ("delay", "drop", "spam", "tempfail", "permfail", "duplicate", "reorder", "rate-limit", "outage")
STAGES = ("connect", "mail", "rcpt", "data")
DISTRIBUTIONS = ("fixed", "uniform", "lognormal")
DISTRIBUTION_FIELDS = {"fixed": {"seconds"}, "uniform": {"min", "max"}, "lognormal": {"median", "p95"}}
Z95 = 1.6448536269514722  # standard normal quantile at 0.95
# Bounds checked when a plan is set, so a plan that is accepted can always be carried out:
# every duration is at most MAX_SECONDS (ten years of scenario time; a delay sampled beyond it
# is held that long), a lognormal median at least MIN_MEDIAN (so sigma stays finite), and a
# reply text fits an SMTP reply line (RFC 5321: 512 octets with code and enhanced code).
MAX_SECONDS = 10 * 365 * 86400.0
MIN_MEDIAN = 0.001
MAX_MESSAGE = 400

_COMMON = {"kind", "to", "start", "end"}
_ALLOWED: dict[str, set[str]] = {
    "delay": _COMMON | {"distribution", "seconds", "min", "max", "median", "p95"},
    "drop": _COMMON | {"probability"},
    "spam": _COMMON | {"probability"},
    "duplicate": _COMMON | {"probability"},
    "tempfail": _COMMON | {"stage", "code", "probability", "message"},
    "permfail": _COMMON | {"stage", "code", "probability", "message"},
    "reorder": _COMMON | {"window", "probability"},
    "rate-limit": _COMMON | {"max", "per", "scope", "code"},
    "outage": {"kind", "start", "end"},
}


class PlanError(SetupError, ValueError):
    """An invalid fault plan (or chaos body): exit 2, with where and why as fields.

    Fields: ``source`` names the plan (a file, ``faults`` for a scenario file's rules, ``chaos``);
    ``rule`` is the rule's index and ``kind`` its kind when known; ``field`` the key at fault
    (absent when the rule or plan as a whole is wrong); ``reason`` what is wrong with it.  The
    message is ``source: rules[i] (kind): reason``; callers read the fields
    (``err.field("field")``, or the attributes below), never the text.
    """

    def __init__(self, source: str, reason: str, *, rule: int | None = None, kind: str | None = None,
                 field: str | None = None) -> None:
        where = source if rule is None else f"{source}: rules[{rule}]" + (f" ({kind})" if kind else "")
        super().__init__(f"{where}: {reason}", source=source, rule=rule, kind=kind, field=field, reason=reason)
        self.source, self.reason, self.rule, self.kind = source, reason, rule, kind


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Which rule of which plan is being checked: makes its PlanErrors."""

    source: str
    rule: int
    kind: str | None = None

    def error(self, reason: str, field: str | None = None) -> PlanError:
        return PlanError(self.source, reason, rule=self.rule, kind=self.kind, field=field)


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    to: str | None = None
    start: float | None = None
    end: float | None = None
    probability: float = 1.0
    distribution: str = "fixed"
    seconds: float = 0.0
    min: float = 0.0
    max: float = 0.0
    median: float = 0.0
    p95: float = 0.0
    stage: str = "rcpt"
    code: int = 0
    message: str = ""
    window: float = 0.0
    limit: int = 0
    per: float = 0.0
    scope: str = "recipient"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def active(self, st: float) -> bool:
        return (self.start is None or st >= self.start) and (self.end is None or st < self.end)

    def matches(self, recipient: str) -> bool:
        return self.to is None or fnmatch.fnmatchcase(recipient.lower(), self.to.lower())

    def matches_any(self, recipients: list[str] | tuple[str, ...]) -> bool:
        return self.to is None or any(self.matches(r) for r in recipients)


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int | None = None
    rules: tuple[Rule, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "rules": [dict(r.raw) for r in self.rules]}


def _num(where: RuleRef, raw: dict[str, Any], key: str, default: float | None = None, *,
         minimum: float | None = None, maximum: float | None = MAX_SECONDS, positive: bool = False) -> float:
    if key not in raw:
        if default is None:
            raise where.error(f"'{key}' is required", key)
        return default
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or math.isinf(v):
        raise where.error(f"'{key}' must be a number, got {v!r}", key)
    if positive and v <= 0:
        raise where.error(f"'{key}' must be > 0, got {v!r}", key)
    if minimum is not None and v < minimum:
        raise where.error(f"'{key}' must be >= {minimum}, got {v!r}", key)
    if maximum is not None and v > maximum:
        raise where.error(f"'{key}' must be <= {maximum}, got {v!r}", key)
    return float(v)


def preview(value: Any) -> str:
    """A value for an error message, cut short: a 10 MB string must not become a 10 MB reply."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(value) if isinstance(value, str) else '?'} chars)"


def _choice(where: RuleRef, raw: dict[str, Any], key: str, options: tuple[str, ...], default: str | None) -> str:
    v = raw.get(key, default)
    if v is None:
        raise where.error(f"'{key}' is required (one of {', '.join(options)})", key)
    if v not in options:
        raise where.error(f"'{key}' must be one of {', '.join(options)}, got {v!r}", key)
    return str(v)


def _code(where: RuleRef, raw: dict[str, Any], default: int, low: int, high: int) -> int:
    v = raw.get("code", default)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise where.error(f"'code' must be an integer {low}-{high}, got {v!r}", "code")
    return v


def parse_rule(raw: Any, index: int, source: str = "plan") -> Rule:
    """Validate one rule dict; raises PlanError naming ``source``, the rule and the field."""
    if not isinstance(raw, dict):
        raise PlanError(source, f"must be a table/object, got {type(raw).__name__}", rule=index)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise PlanError(source, f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}", rule=index, field="kind")
    where = RuleRef(source, index, kind)
    unknown = sorted(set(raw) - _ALLOWED[kind])
    if unknown:
        raise where.error(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED[kind]))}",
                          unknown[0])
    to = raw.get("to")
    if "to" in raw and (not isinstance(to, str) or not to):
        raise where.error(f"'to' must be a non-empty glob string, got {to!r}", "to")
    start = _num(where, raw, "start", minimum=-MAX_SECONDS) if "start" in raw else None
    end = _num(where, raw, "end", minimum=-MAX_SECONDS) if "end" in raw else None
    if start is not None and end is not None and end <= start:
        raise where.error(f"'end' ({end}) must be after 'start' ({start})", "end")
    args: dict[str, Any] = {"kind": kind, "to": to, "start": start, "end": end, "raw": dict(raw)}
    if "probability" in _ALLOWED[kind]:
        args["probability"] = _num(where, raw, "probability", 1.0, minimum=0.0, maximum=1.0)
    if kind == "delay":
        args.update(_delay_fields(where, raw))
    elif kind in ("tempfail", "permfail"):
        args.update(_refusal_fields(where, raw, to))
    elif kind == "reorder":
        args["window"] = _num(where, raw, "window", positive=True)
    elif kind == "rate-limit":
        args.update(_rate_limit_fields(where, raw))
    return Rule(**args)


def _delay_fields(where: RuleRef, raw: dict[str, Any]) -> dict[str, Any]:
    dist = _choice(where, raw, "distribution", DISTRIBUTIONS, "fixed")
    args: dict[str, Any] = {"distribution": dist}
    stray = sorted((set(raw) & set().union(*DISTRIBUTION_FIELDS.values())) - DISTRIBUTION_FIELDS[dist])
    if stray:  # a field of another distribution would be silently ignored: say so instead
        raise where.error(f"{', '.join(stray)} not used with distribution {dist} "
                          f"(it takes {', '.join(sorted(DISTRIBUTION_FIELDS[dist]))})", stray[0])
    if dist == "fixed":
        args["seconds"] = _num(where, raw, "seconds", minimum=0.0)
    elif dist == "uniform":
        args["min"] = _num(where, raw, "min", minimum=0.0)
        args["max"] = _num(where, raw, "max", minimum=0.0)
        if args["max"] < args["min"]:
            raise where.error("'max' must be >= 'min'", "max")
    else:
        args["median"] = _num(where, raw, "median", minimum=MIN_MEDIAN)
        args["p95"] = _num(where, raw, "p95", minimum=MIN_MEDIAN)
        if args["p95"] < args["median"]:
            raise where.error("'p95' must be >= 'median'", "p95")
    return args


def _refusal_fields(where: RuleRef, raw: dict[str, Any], to: str | None) -> dict[str, Any]:
    stage = _choice(where, raw, "stage", STAGES, "rcpt")
    if to is not None and stage in ("connect", "mail"):
        raise where.error(f"'to' cannot be used at stage {stage} (recipients are not known yet)", "to")
    if where.kind == "tempfail":
        code = _code(where, raw, 421 if stage == "connect" else 451, 400, 499)
    else:
        code = _code(where, raw, 554 if stage in ("connect", "data") else 550, 500, 599)
    msg = raw.get("message", "")
    if not isinstance(msg, str) or not msg.isascii() or not msg.isprintable() or len(msg) > MAX_MESSAGE:
        raise where.error(f"'message' must be one line of printable ASCII, at most {MAX_MESSAGE} "
                          f"characters (an SMTP reply line), got {preview(msg)}", "message")
    return {"stage": stage, "code": code, "message": msg}


def _rate_limit_fields(where: RuleRef, raw: dict[str, Any]) -> dict[str, Any]:
    mx = raw.get("max")
    if isinstance(mx, bool) or not isinstance(mx, int) or mx < 0:
        raise where.error(f"'max' must be an integer >= 0, got {mx!r}", "max")
    return {"limit": mx, "per": _num(where, raw, "per", positive=True),
            "scope": _choice(where, raw, "scope", ("recipient", "overall"), "recipient"),
            "code": _code(where, raw, 421, 400, 499)}


def parse_plan(data: Any, source: str = "plan") -> Plan:
    """Validate a whole plan (``{"seed": N, "rules": [...]}``)."""
    if not isinstance(data, dict):
        raise PlanError(source, f"the plan must be a table/object with 'rules', got {type(data).__name__}")
    unknown = sorted(set(data) - {"seed", "rules"})
    if unknown:
        raise PlanError(source, f"unknown top-level field(s) {', '.join(unknown)}; allowed: seed, rules",
                        field=unknown[0])
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PlanError(source, f"'seed' must be an integer, got {seed!r}", field="seed")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise PlanError(source, f"'rules' must be a list ([[rules]] in TOML), got {type(rules).__name__}",
                        field="rules")
    return Plan(seed, tuple(parse_rule(r, i, source) for i, r in enumerate(rules)))
