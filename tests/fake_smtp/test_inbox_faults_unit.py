"""Unit tests of fault-plan validation and each pure fault decision (explicit scenario time, seeded RNG)."""

from __future__ import annotations

import statistics

import pytest

from mfa_harness.errors import SetupError
from mfa_harness.fake_smtp.fault_engine import FaultEngine, Refusal
from mfa_harness.fake_smtp.faults import PlanError, parse_plan


def engine(*rules: dict, seed: int = 1) -> FaultEngine:
    return FaultEngine(parse_plan({"seed": seed, "rules": list(rules)}))


@pytest.mark.parametrize(("rules", "fragment"), [
    ([{"kind": "meteor"}], "'kind' must be one of"),
    ([{"kind": "delay"}], "'seconds' is required"),
    ([{"kind": "delay", "distribution": "normal", "seconds": 1}], "'distribution' must be one of"),
    ([{"kind": "delay", "distribution": "uniform", "min": 5, "max": 1}], "'max' must be >= 'min'"),
    ([{"kind": "delay", "distribution": "lognormal", "median": 10, "p95": 5}], "'p95' must be >= 'median'"),
    ([{"kind": "drop", "probability": 1.5}], "'probability' must be <= 1.0"),
    ([{"kind": "drop", "probability": "often"}], "'probability' must be a number"),
    ([{"kind": "tempfail", "stage": "helo"}], "'stage' must be one of"),
    ([{"kind": "tempfail", "code": 550}], "'code' must be an integer 400-499"),
    ([{"kind": "permfail", "code": 451}], "'code' must be an integer 500-599"),
    ([{"kind": "tempfail", "stage": "connect", "to": "*@x"}], "'to' cannot be used at stage connect"),
    ([{"kind": "rate-limit", "max": 2}], "'per' is required"),
    ([{"kind": "rate-limit", "max": -1, "per": 5}], "'max' must be an integer >= 0"),
    ([{"kind": "rate-limit", "max": 1, "per": 5, "scope": "domain"}], "'scope' must be one of"),
    ([{"kind": "reorder"}], "'window' is required"),
    ([{"kind": "outage", "to": "a@b"}], "unknown field(s) to"),
    ([{"kind": "drop", "start": 10, "end": 5}], "'end' (5.0) must be after 'start'"),
    ([{"kind": "drop", "colour": "red"}], "unknown field(s) colour"),
    ("not a list", "'rules' must be a list"),
])
def test_invalid_plans_name_the_rule_and_the_problem(rules: object, fragment: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan({"rules": rules}, "plan.toml")
    assert str(err.value).startswith("plan.toml: ")
    assert fragment in str(err.value)


def test_plan_top_level_validation() -> None:
    with pytest.raises(PlanError, match="'seed' must be an integer"):
        parse_plan({"seed": "x", "rules": []})
    with pytest.raises(PlanError, match="unknown top-level"):
        parse_plan({"rule": []})
    assert parse_plan({}).rules == ()


def _ask(e: FaultEngine, stage: str, st: float) -> Refusal | None:
    if stage == "connect":
        return e.on_connect(st)
    if stage == "mail":
        return e.on_mail(st, "p@x")
    if stage == "rcpt":
        return e.on_rcpt(st, "a@x")
    return e.on_data(st, ("a@x",))


def test_tempfail_and_permfail_at_each_stage_within_window() -> None:
    for stage in ("connect", "mail", "rcpt", "data"):
        e = engine({"kind": "tempfail", "stage": stage, "start": 10, "end": 20})
        assert _ask(e, stage, 5) is None
        r = _ask(e, stage, 15)
        assert r is not None and r.stage == stage and r.fault == "tempfail" and r.rule == 0
        assert r.code == (421 if stage == "connect" else 451)
        assert r.reply.startswith(f"{r.code} ")
        assert _ask(e, stage, 20) is None
        for other in {"connect", "mail", "rcpt", "data"} - {stage}:
            assert _ask(e, other, 15) is None
    e = engine({"kind": "permfail", "stage": "rcpt", "code": 554, "to": "*@bad.test"})
    assert e.on_rcpt(0, "x@good.test") is None
    r = e.on_rcpt(0, "X@BAD.TEST")
    assert r is not None and r.code == 554 and r.fault == "permfail"


def test_outage_refuses_connections_only_in_window() -> None:
    e = engine({"kind": "outage", "start": 100, "end": 200})
    assert e.on_connect(99.9) is None
    r = e.on_connect(100)
    assert r is not None and r.code is None and r.fault == "outage" and r.rule == 0
    assert e.on_connect(200) is None


def test_probability_is_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        e = engine({"kind": "drop", "probability": 0.5}, seed=seed)
        return [e.fate(0, ("a@x",)).drop is not None for _ in range(1000)]

    a, b, c = run(42), run(42), run(43)
    assert a == b
    assert a != c
    assert 400 < sum(a) < 600


def test_fate_kinds_and_rule_indexes() -> None:
    e = engine({"kind": "spam", "to": "*@spam.test"}, {"kind": "delay", "seconds": 30},
               {"kind": "duplicate", "to": "dup@*"}, {"kind": "reorder", "window": 5, "to": "r@*"},
               {"kind": "drop", "to": "gone@*"})
    f = e.fate(0, ("a@spam.test",))
    assert (f.spam, f.delay_rule, f.delay, f.duplicate, f.drop) == (0, 1, 30.0, None, None)
    f = e.fate(0, ("dup@x",))
    assert (f.spam, f.duplicate) == (None, 2)
    f = e.fate(0, ("r@x",))
    assert (f.reorder_rule, f.reorder_window) == (3, 5.0)
    f = e.fate(0, ("gone@x",))
    assert f.drop == 4 and f.delay_rule is None  # a dropped message has no other fate


def test_delay_distributions() -> None:
    e = engine({"kind": "delay", "distribution": "uniform", "min": 2, "max": 4})
    xs = [e.fate(0, ("a@x",)).delay for _ in range(500)]
    assert all(2 <= x <= 4 for x in xs) and max(xs) - min(xs) > 1
    e = engine({"kind": "delay", "distribution": "lognormal", "median": 60, "p95": 120})
    xs = sorted(e.fate(0, ("a@x",)).delay for _ in range(8000))
    assert statistics.median(xs) == pytest.approx(60, rel=0.08)
    assert xs[int(0.95 * len(xs))] == pytest.approx(120, rel=0.1)


def test_rate_limit_per_recipient_counts_for_real() -> None:
    e = engine({"kind": "rate-limit", "max": 2, "per": 60, "scope": "recipient"})
    for st in (0, 1):
        assert e.on_rcpt(st, "a@x") is None
        e.accepted(st, ("a@x",))
    r = e.on_rcpt(2, "A@X")
    assert r is not None and r.code == 421 and r.fault == "rate-limit" and r.rule == 0
    assert e.on_rcpt(2, "b@x") is None  # another recipient has its own budget
    assert e.on_data(2, ("a@x",)) is not None
    assert e.on_rcpt(60.5, "a@x") is None  # the first one left the sliding window


def test_rate_limit_overall() -> None:
    e = engine({"kind": "rate-limit", "max": 1, "per": 10, "scope": "overall"})
    e.accepted(0, ("a@x",))
    assert e.on_rcpt(1, "b@x") is not None
    assert e.on_rcpt(10.5, "b@x") is None


def test_new_plan_resets_rng_and_counters() -> None:
    e = engine({"kind": "rate-limit", "max": 1, "per": 100})
    e.accepted(0, ("a@x",))
    assert e.on_rcpt(1, "a@x") is not None
    e.set_plan(parse_plan({"rules": [{"kind": "rate-limit", "max": 1, "per": 100}]}))
    assert e.on_rcpt(1, "a@x") is None


def test_chaos_validation_and_reset() -> None:
    e = FaultEngine()
    out = e.set_chaos({"Sender": {"ErrorCode": 550, "Probability": 100}})
    assert out["Triggers"]["Sender"] == {"ErrorCode": 550, "Probability": 100}
    r = e.on_mail(0, "p@x")
    assert r is not None and r.code == 550 and r.fault == "chaos" and r.rule is None
    for bad in ({"Sender": {"ErrorCode": 200}}, {"Sender": {"Probability": 101}}, {"Nope": {}}, []):
        with pytest.raises(PlanError):
            e.set_chaos(bad)
    e.set_chaos({})
    assert e.on_mail(0, "p@x") is None


def test_seed_option_replaces_the_initial_plan_seed_only() -> None:
    plan = parse_plan({"seed": 5, "rules": [{"kind": "drop", "probability": 0.5}]})
    e = FaultEngine(plan, seed=9)
    assert e.plan.seed == 9 and e.plan.to_json()["seed"] == 9
    e.set_plan(parse_plan({"seed": 3, "rules": []}))
    assert e.plan.seed == 3


@pytest.mark.parametrize(("plan", "rule", "kind", "field"), [
    ({"rules": [{"kind": "delay", "distribution": "uniform", "min": 5, "max": 1}]}, 0, "delay", "max"),
    ({"rules": [{"kind": "spam"}, {"kind": "delay", "seconds": 1, "p95": 2}]}, 1, "delay", "p95"),
    ({"rules": [{"kind": "drop", "retry-after": 3}]}, 0, "drop", "retry-after"),
    ({"rules": [{"kind": "tempfail", "stage": "mail", "to": "a@x"}]}, 0, "tempfail", "to"),
    ({"rules": [{"kind": "flood"}]}, 0, None, "kind"),
    ({"rules": [7]}, 0, None, None),
    ({"seed": "x", "rules": []}, None, None, "seed"),
])
def test_a_plan_error_carries_rule_kind_and_field(plan: dict, rule: int | None, kind: str | None,
                                                  field: str | None) -> None:
    """Callers (the scenario-file checker) read these fields; nothing parses the message."""
    with pytest.raises(PlanError) as err:
        parse_plan(plan, "f.toml")
    e = err.value
    assert (e.source, e.rule, e.kind, e.field("field")) == ("f.toml", rule, kind, field)
    assert str(e).startswith("f.toml") and str(e).endswith(e.reason) and e.exit_code == 2
    assert isinstance(e, SetupError) and e.fields["reason"] == e.reason


def test_a_chaos_error_names_the_trigger_field() -> None:
    with pytest.raises(PlanError) as err:
        FaultEngine().set_chaos({"Sender": {"ErrorCode": 200}})
    assert (err.value.source, err.value.rule, err.value.field("field")) == ("chaos", None, "Sender.ErrorCode")
    assert str(err.value).startswith("chaos: Sender.ErrorCode must be an integer 400-599")
