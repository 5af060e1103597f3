"""The shipped JSON Schemas: in step with the parsers, and the catalogue and profiles follow them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
from histories import History, account

from mfa_harness.scenarios.schemas import SCHEMAS, path_of, render
from mfa_harness.scenarios.spec import CATALOG_DIR
from mfa_harness.scenarios.verdict_io import compute_verdict

REPO = Path(__file__).resolve().parents[2]


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(path_of(name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_shipped_schemas_are_the_generated_ones(name: str) -> None:
    assert path_of(name).read_text(encoding="utf-8") == render(name), "run `python -m mfa_harness.scenarios.schemas`"
    assert "schemas/*.json" in (REPO / "pyproject.toml").read_text(encoding="utf-8")   # shipped in the wheel


@pytest.mark.parametrize("path", sorted(CATALOG_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_catalogue_scenario_follows_the_schema(path: Path) -> None:
    errors = [e.message for e in validator("scenario").iter_errors(tomllib.loads(path.read_text(encoding="utf-8")))]
    assert errors == []


@pytest.mark.parametrize("path", sorted((REPO / "loadtests" / "profiles").glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_profiles_follow_the_schema(path: Path) -> None:
    assert [e.message for e in validator("profile").iter_errors(tomllib.loads(path.read_text(encoding="utf-8")))] == []


@pytest.mark.parametrize("mistake", [
    {"personas": {"carefull": 1}},                          # a typo in a persona name
    {"colour": "blue"},                                     # an unknown top-level key
    {"faults": [{"kind": "delay", "secs": 3}]},             # an unknown fault field
    {"faults": [{"kind": "outage", "to": "a@*"}]},          # outage takes no recipient
    {"policy": {"resend": "sometimes"}},
    {"expect": {"invalid": ["no_such_invariant"]}},
])
def test_the_scenario_schema_catches_what_the_parser_refuses(mistake: dict) -> None:
    doc = {"description": "x", "personas": {"careful": 1}, **mistake}
    assert list(validator("scenario").iter_errors(doc))


def test_a_real_verdict_follows_the_verdict_schema() -> None:
    h = History()
    for i in range(1, 4):
        h.login(10.0 * i, i, i, pid=1)
    verdict = compute_verdict(h.lines(), {"scenario": "smoke", "seed": 1, "time_scale": 1.0,
                                          "accounts": [account(1)], "thresholds": {"login.p95 < 8s": True}})
    verdict = json.loads(json.dumps(verdict, default=str))        # as written to verdict.json
    assert [e.message for e in validator("verdict").iter_errors(verdict)] == []
    broken = {**verdict, "passed": "yes"}
    assert list(validator("verdict").iter_errors(broken))
