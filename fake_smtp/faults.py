"""Fault plan and the pure decisions it makes.

A plan is a list of rules (``kind``, optional ``to`` glob, optional ``start``/``end``
window in scenario seconds, kind-specific fields).  ``FaultEngine`` answers the SMTP
handler's questions at each stage (connect, MAIL, RCPT, DATA) and, for accepted mail,
what happens to it (drop, spam, delay, reorder, duplicate).  It never reads a clock: the
caller passes the scenario time, and the RNG is seeded from the plan, so a run with the
same seed and the same order of events makes the same choices.

For each kind the first rule (in plan order) that applies and fires decides, and its
index is reported so the delivery history can name it.  Rules with ``to`` apply to a
message when any of its recipients matches.
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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


class PlanError(ValueError):
    """An invalid fault plan; the message says where and what."""


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


def _num(where: str, raw: dict[str, Any], key: str, default: float | None = None, *,
         minimum: float | None = None, maximum: float | None = MAX_SECONDS, positive: bool = False) -> float:
    if key not in raw:
        if default is None:
            raise PlanError(f"{where}: '{key}' is required")
        return default
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or math.isinf(v):
        raise PlanError(f"{where}: '{key}' must be a number, got {v!r}")
    if positive and v <= 0:
        raise PlanError(f"{where}: '{key}' must be > 0, got {v!r}")
    if minimum is not None and v < minimum:
        raise PlanError(f"{where}: '{key}' must be >= {minimum}, got {v!r}")
    if maximum is not None and v > maximum:
        raise PlanError(f"{where}: '{key}' must be <= {maximum}, got {v!r}")
    return float(v)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(value) if isinstance(value, str) else '?'} chars)"


def _choice(where: str, raw: dict[str, Any], key: str, options: tuple[str, ...], default: str | None) -> str:
    v = raw.get(key, default)
    if v is None:
        raise PlanError(f"{where}: '{key}' is required (one of {', '.join(options)})")
    if v not in options:
        raise PlanError(f"{where}: '{key}' must be one of {', '.join(options)}, got {v!r}")
    return str(v)


def _code(where: str, raw: dict[str, Any], default: int, low: int, high: int) -> int:
    v = raw.get("code", default)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise PlanError(f"{where}: 'code' must be an integer {low}-{high}, got {v!r}")
    return v


def parse_rule(raw: Any, index: int, source: str = "plan") -> Rule:
    """Validate one rule dict; raises PlanError naming ``source`` and the rule."""
    if not isinstance(raw, dict):
        raise PlanError(f"{source}: rules[{index}] must be a table/object, got {type(raw).__name__}")
    kind = raw.get("kind")
    where = f"{source}: rules[{index}] ({kind})"
    if kind not in KINDS:
        raise PlanError(f"{source}: rules[{index}]: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = sorted(set(raw) - _ALLOWED[kind])
    if unknown:
        raise PlanError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED[kind]))}")
    to = raw.get("to")
    if "to" in raw and (not isinstance(to, str) or not to):
        raise PlanError(f"{where}: 'to' must be a non-empty glob string, got {to!r}")
    start = _num(where, raw, "start", minimum=-MAX_SECONDS) if "start" in raw else None
    end = _num(where, raw, "end", minimum=-MAX_SECONDS) if "end" in raw else None
    if start is not None and end is not None and end <= start:
        raise PlanError(f"{where}: 'end' ({end}) must be after 'start' ({start})")
    args: dict[str, Any] = {"kind": kind, "to": to, "start": start, "end": end, "raw": dict(raw)}
    if "probability" in _ALLOWED[kind]:
        args["probability"] = _num(where, raw, "probability", 1.0, minimum=0.0, maximum=1.0)
    if kind == "delay":
        dist = _choice(where, raw, "distribution", DISTRIBUTIONS, "fixed")
        args["distribution"] = dist
        stray = sorted((set(raw) & set().union(*DISTRIBUTION_FIELDS.values())) - DISTRIBUTION_FIELDS[dist])
        if stray:  # a field of another distribution would be silently ignored: say so instead
            raise PlanError(f"{where}: {', '.join(stray)} not used with distribution {dist} "
                            f"(it takes {', '.join(sorted(DISTRIBUTION_FIELDS[dist]))})")
        if dist == "fixed":
            args["seconds"] = _num(where, raw, "seconds", minimum=0.0)
        elif dist == "uniform":
            args["min"] = _num(where, raw, "min", minimum=0.0)
            args["max"] = _num(where, raw, "max", minimum=0.0)
            if args["max"] < args["min"]:
                raise PlanError(f"{where}: 'max' must be >= 'min'")
        else:
            args["median"] = _num(where, raw, "median", minimum=MIN_MEDIAN)
            args["p95"] = _num(where, raw, "p95", minimum=MIN_MEDIAN)
            if args["p95"] < args["median"]:
                raise PlanError(f"{where}: 'p95' must be >= 'median'")
    elif kind in ("tempfail", "permfail"):
        stage = _choice(where, raw, "stage", STAGES, "rcpt")
        args["stage"] = stage
        if to is not None and stage in ("connect", "mail"):
            raise PlanError(f"{where}: 'to' cannot be used at stage {stage} (recipients are not known yet)")
        if kind == "tempfail":
            args["code"] = _code(where, raw, 421 if stage == "connect" else 451, 400, 499)
        else:
            args["code"] = _code(where, raw, 554 if stage in ("connect", "data") else 550, 500, 599)
        msg = raw.get("message", "")
        if not isinstance(msg, str) or not msg.isascii() or not msg.isprintable() or len(msg) > MAX_MESSAGE:
            raise PlanError(f"{where}: 'message' must be one line of printable ASCII, at most {MAX_MESSAGE} "
                            f"characters (an SMTP reply line), got {_preview(msg)}")
        args["message"] = msg
    elif kind == "reorder":
        args["window"] = _num(where, raw, "window", positive=True)
    elif kind == "rate-limit":
        mx = raw.get("max")
        if isinstance(mx, bool) or not isinstance(mx, int) or mx < 0:
            raise PlanError(f"{where}: 'max' must be an integer >= 0, got {mx!r}")
        args["limit"] = mx
        args["per"] = _num(where, raw, "per", positive=True)
        args["scope"] = _choice(where, raw, "scope", ("recipient", "overall"), "recipient")
        args["code"] = _code(where, raw, 421, 400, 499)
    return Rule(**args)


def parse_plan(data: Any, source: str = "plan") -> Plan:
    """Validate a whole plan (``{"seed": N, "rules": [...]}``)."""
    if not isinstance(data, dict):
        raise PlanError(f"{source}: the plan must be a table/object with 'rules', got {type(data).__name__}")
    unknown = sorted(set(data) - {"seed", "rules"})
    if unknown:
        raise PlanError(f"{source}: unknown top-level field(s) {', '.join(unknown)}; allowed: seed, rules")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PlanError(f"{source}: 'seed' must be an integer, got {seed!r}")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise PlanError(f"{source}: 'rules' must be a list ([[rules]] in TOML), got {type(rules).__name__}")
    return Plan(seed, tuple(parse_rule(r, i, source) for i, r in enumerate(rules)))


@dataclass(frozen=True, slots=True)
class Refusal:
    """An SMTP refusal: ``code`` None means drop the connection without a reply."""

    stage: str
    code: int | None
    fault: str  # tempfail, permfail, rate-limit, outage, chaos
    rule: int | None
    text: str

    @property
    def reply(self) -> str:
        return self.text


@dataclass(slots=True)
class Fate:
    """What happens to one accepted message."""

    drop: int | None = None  # rule index
    spam: int | None = None
    delay: float = 0.0  # scenario seconds
    delay_rule: int | None = None
    reorder_window: float = 0.0
    reorder_rule: int | None = None
    duplicate: int | None = None


def _reply(code: int, text: str) -> str:
    enhanced = {4: "4.3.0", 5: "5.7.1"}[code // 100]
    return f"{code} {enhanced} {text}"


CHAOS_TRIGGERS = ("Sender", "Recipient", "Authentication")
CHAOS_DEFAULT_CODES = {"Sender": 451, "Recipient": 451, "Authentication": 535}  # Mailpit's defaults


class FaultEngine:
    """Makes fault decisions for one plan; holds the RNG and rate-limit counters."""

    def __init__(self, plan: Plan | None = None, seed: int | None = None) -> None:
        """``seed`` (``--seed``) replaces the seed of the initial plan; a later PUT brings its own."""
        self.chaos: dict[str, dict[str, int | float]] = {
            t: {"ErrorCode": CHAOS_DEFAULT_CODES[t], "Probability": 0} for t in CHAOS_TRIGGERS}
        plan = plan or Plan()
        if seed is not None:
            plan = Plan(seed, plan.rules)
        self.set_plan(plan)

    def set_plan(self, plan: Plan) -> None:
        """Install a new plan: fresh RNG from its seed, fresh rate-limit counters."""
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self._counts: dict[tuple[int, str], deque[float]] = {}

    def _fires(self, rule: Rule) -> bool:
        if rule.probability >= 1.0:
            return True
        if rule.probability <= 0.0:
            return False
        return self.rng.random() < rule.probability

    # -- SMTP stages ---------------------------------------------------------------------
    def _stage_fault(self, stage: str, st: float, recipients: tuple[str, ...] | None) -> Refusal | None:
        for i, r in enumerate(self.plan.rules):
            if r.kind not in ("tempfail", "permfail") or r.stage != stage or not r.active(st):
                continue
            if recipients is not None and not r.matches_any(recipients):
                continue
            if self._fires(r):
                text = r.message or f"injected {r.kind} (fake_smtp rule {i})"
                return Refusal(stage, r.code, r.kind, i, _reply(r.code, text))
        return None

    def _chaos(self, trigger: str, stage: str) -> Refusal | None:
        t = self.chaos[trigger]
        p = float(t["Probability"])
        if p > 0 and self.rng.random() * 100 < p:
            code = int(t["ErrorCode"])
            return Refusal(stage, code, "chaos", None, _reply(code, f"chaos {trigger} trigger"))
        return None

    def on_connect(self, st: float) -> Refusal | None:
        for i, r in enumerate(self.plan.rules):
            if r.kind == "outage" and r.active(st):
                return Refusal("connect", None, "outage", i, "")
        return self._stage_fault("connect", st, None)

    def on_mail(self, st: float, sender: str) -> Refusal | None:
        return self._stage_fault("mail", st, None) or self._chaos("Sender", "mail")

    def on_auth(self) -> Refusal | None:
        return self._chaos("Authentication", "auth")

    def on_rcpt(self, st: float, recipient: str) -> Refusal | None:
        refusal = self._stage_fault("rcpt", st, (recipient,)) or self._chaos("Recipient", "rcpt")
        return refusal or self._rate_limited("rcpt", st, (recipient,))

    def on_data(self, st: float, recipients: tuple[str, ...]) -> Refusal | None:
        return self._stage_fault("data", st, recipients) or self._rate_limited("data", st, recipients)

    # -- rate limiting (real counting over a sliding window of scenario time) -------------
    def _keys(self, rule: Rule, recipients: tuple[str, ...]) -> list[str]:
        if rule.scope == "overall":
            return ["*"] if rule.matches_any(recipients) else []
        return sorted({r.lower() for r in recipients if rule.matches(r)})

    def _window(self, index: int, key: str, rule: Rule, st: float) -> deque[float]:
        q = self._counts.setdefault((index, key), deque())
        for _ in range(len(q)):
            if q[0] > st - rule.per:
                break
            q.popleft()
        return q

    def _rate_limited(self, stage: str, st: float, recipients: tuple[str, ...]) -> Refusal | None:
        for i, r in enumerate(self.plan.rules):
            if r.kind != "rate-limit" or not r.active(st):
                continue
            for key in self._keys(r, recipients):
                if len(self._window(i, key, r, st)) >= r.limit:
                    text = f"rate limit: at most {r.limit} per {r.per:g}s (fake_smtp rule {i})"
                    return Refusal(stage, r.code, "rate-limit", i, _reply(r.code, text))
        return None

    def accepted(self, st: float, recipients: tuple[str, ...]) -> None:
        """Count an accepted message against every matching rate limit."""
        for i, r in enumerate(self.plan.rules):
            if r.kind == "rate-limit" and r.active(st):
                for key in self._keys(r, recipients):
                    self._window(i, key, r, st).append(st)

    # -- what happens to accepted mail --------------------------------------------------
    def _first(self, kind: str, st: float, recipients: tuple[str, ...]) -> tuple[int, Rule] | None:
        for i, r in enumerate(self.plan.rules):
            if r.kind == kind and r.active(st) and r.matches_any(recipients) and self._fires(r):
                return i, r
        return None

    def sample_delay(self, rule: Rule) -> float:
        if rule.distribution == "fixed":
            return rule.seconds
        if rule.distribution == "uniform":
            return self.rng.uniform(rule.min, rule.max)
        mu = math.log(rule.median)
        sigma = (math.log(rule.p95) - mu) / Z95
        # lognormvariate is exp(normalvariate): same draws, but the tail is capped in log space
        # instead of overflowing (a huge p95 once answered DATA with 500 OverflowError).
        log_delay = self.rng.normalvariate(mu, sigma)
        return MAX_SECONDS if log_delay >= math.log(MAX_SECONDS) else math.exp(log_delay)

    def fate(self, st: float, recipients: tuple[str, ...]) -> Fate:
        """Decide drop / spam / delay / reorder / duplicate for an accepted message."""
        f = Fate()
        hit = self._first("drop", st, recipients)
        if hit:
            f.drop = hit[0]
            return f
        hit = self._first("spam", st, recipients)
        if hit:
            f.spam = hit[0]
        hit = self._first("delay", st, recipients)
        if hit:
            f.delay_rule = hit[0]
            f.delay = self.sample_delay(hit[1])
        hit = self._first("reorder", st, recipients)
        if hit:
            f.reorder_rule, f.reorder_window = hit[0], hit[1].window
        hit = self._first("duplicate", st, recipients)
        if hit:
            f.duplicate = hit[0]
        return f

    # -- Mailpit chaos -------------------------------------------------------------------
    def set_chaos(self, body: Any) -> dict[str, Any]:
        """Apply a Mailpit ``PUT /api/v1/chaos`` body; omitted triggers reset to off."""
        if not isinstance(body, dict):
            raise PlanError("chaos: body must be a JSON object")
        unknown = sorted(set(body) - set(CHAOS_TRIGGERS))
        if unknown:
            raise PlanError(f"chaos: unknown trigger(s) {', '.join(unknown)}; allowed: {', '.join(CHAOS_TRIGGERS)}")
        new: dict[str, dict[str, int | float]] = {}
        for t in CHAOS_TRIGGERS:
            v = body.get(t, {})
            if not isinstance(v, dict):
                raise PlanError(f"chaos: {t} must be an object with ErrorCode and Probability")
            code = v.get("ErrorCode", CHAOS_DEFAULT_CODES[t])
            prob = v.get("Probability", 0)
            if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
                raise PlanError(f"chaos: {t}.ErrorCode must be an integer 400-599, got {_preview(code)}")
            if isinstance(prob, bool) or not isinstance(prob, int) or not 0 <= prob <= 100:
                raise PlanError(f"chaos: {t}.Probability must be an integer 0-100 (percent), got {_preview(prob)}")
            new[t] = {"ErrorCode": code, "Probability": prob}
        self.chaos = new
        return self.chaos_json()

    def chaos_json(self) -> dict[str, Any]:
        return {"Triggers": {t: dict(v) for t, v in self.chaos.items()}}
