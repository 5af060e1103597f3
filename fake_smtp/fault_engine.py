"""The fault engine: the decisions a fault plan makes while mail flows.

``FaultEngine`` answers the SMTP handler's questions at each stage (connect, MAIL, RCPT,
DATA) and, for accepted mail, what happens to it (drop, spam, delay, reorder, duplicate).
It never reads a clock: the caller passes the scenario time, and the RNG is seeded from the
plan, so a run with the same seed and the same order of events makes the same choices.
The plan itself (its rules and how they are checked) is ``mfa_harness.fake_smtp.faults``.

For each kind the first rule (in plan order) that applies and fires decides, and its
index is reported so the delivery history can name it.  Rules with ``to`` apply to a
message when any of its recipients matches.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from mfa_harness.fake_smtp.faults import MAX_SECONDS, Z95, Plan, PlanError, Rule, preview


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

    def in_session(self) -> Refusal:
        """This connect-stage refusal as the answer to a MAIL on an already open connection.

        An outage stays a reset. A 5xx stays itself (the transaction is refused, the session goes
        on). A 4xx becomes 421 (RFC 5321 3.8: the one 4xx a server may send and then close), the
        code the sender sees, so the history line says it too."""
        if self.code is None or self.code >= 500 or self.code == 421:
            return self
        return replace(self, code=421, text="421" + self.text[3:])


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
            raise PlanError("chaos", "body must be a JSON object")
        unknown = sorted(set(body) - set(CHAOS_TRIGGERS))
        if unknown:
            raise PlanError("chaos", f"unknown trigger(s) {', '.join(unknown)}; allowed: {', '.join(CHAOS_TRIGGERS)}",
                            field=unknown[0])
        new: dict[str, dict[str, int | float]] = {}
        for t in CHAOS_TRIGGERS:
            v = body.get(t, {})
            if not isinstance(v, dict):
                raise PlanError("chaos", f"{t} must be an object with ErrorCode and Probability", field=t)
            code = v.get("ErrorCode", CHAOS_DEFAULT_CODES[t])
            prob = v.get("Probability", 0)
            if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
                raise PlanError("chaos", f"{t}.ErrorCode must be an integer 400-599, got {preview(code)}",
                                field=f"{t}.ErrorCode")
            if isinstance(prob, bool) or not isinstance(prob, int) or not 0 <= prob <= 100:
                raise PlanError("chaos", f"{t}.Probability must be an integer 0-100 (percent), got {preview(prob)}",
                                field=f"{t}.Probability")
            new[t] = {"ErrorCode": code, "Probability": prob}
        self.chaos = new
        return self.chaos_json()

    def chaos_json(self) -> dict[str, Any]:
        return {"Triggers": {t: dict(v) for t, v in self.chaos.items()}}
