"""JSON Schemas of what users write and read: scenario files, target profiles and verdict.json.

Built from the registries the parsers use (personas, invariants, policy keys, fault kinds,
nemesis actions, profile keys), so a schema names exactly what the harness accepts; the shipped copies in
`scenarios/schemas/*.schema.json` are these, written by `python -m mfa_harness.scenarios.schemas` (a test
keeps them equal). Editors use them to complete and check files: taplo reads a
`#:schema PATH` first line in TOML, VS Code's `json.schemas` setting maps verdict.json.
The parsers stay the authority (file:line errors, rules between keys); a schema is the map.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).with_name("schemas")
DRAFT = "https://json-schema.org/draft/2020-12/schema"
NUMBER, STRING, BOOL = {"type": "number"}, {"type": "string"}, {"type": "boolean"}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}
POS_INT = {"type": "integer", "minimum": 1}


def _obj(props: dict[str, Any], required: list[str] | None = None, *, extra: Any = False,
         description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    return out


def _fault_rule() -> dict[str, Any]:
    from mfa_harness.fake_smtp.faults import _ALLOWED, DISTRIBUTIONS, KINDS, STAGES

    field_types: dict[str, Any] = {
        "kind": {"enum": list(KINDS)}, "to": {**STRING, "description": "glob on the recipient"},
        "start": {**NUMBER, "minimum": 0, "description": "scenario s"}, "end": {**NUMBER, "minimum": 0},
        "probability": {**NUMBER, "minimum": 0, "maximum": 1}, "distribution": {"enum": list(DISTRIBUTIONS)},
        "seconds": NUMBER, "min": NUMBER, "max": NUMBER, "median": NUMBER, "p95": NUMBER,
        "stage": {"enum": list(STAGES)}, "code": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": STRING, "window": POSITIVE, "per": POSITIVE, "scope": {"enum": ["recipient", "overall"]},
    }
    variants = [_obj({k: ({"const": kind} if k == "kind" else field_types[k]) for k in sorted(allowed)}, ["kind"])
                for kind, allowed in _ALLOWED.items()]
    return {"description": "an inbox fault rule (fake_smtp/README.md, 'Fault plan')", "oneOf": variants}


def _nemesis_step() -> dict[str, Any]:
    """One variant per nemesis action, from its class's fields (scenarios/nemesis.py)."""
    from dataclasses import MISSING

    from .nemesis import ACTIONS

    kinds = {float: NUMBER, int: {"type": "integer"}, str: STRING}
    variants = []
    for name, cls in ACTIONS.items():
        props: dict[str, Any] = {"action": {"const": name}}
        for f in cls.settings():
            meta = f.metadata
            prop = {"enum": list(meta["choices"])} if meta["choices"] else dict(kinds[cls.types()[f.name]])
            if meta["minimum"] is not None:
                prop["minimum"] = meta["minimum"]
            props[f.name] = {**prop, "description": meta["doc"]}
        required = ["action"] + [f.name for f in cls.settings() if f.default is MISSING]
        variants.append(_obj(props, required, description=(cls.__doc__ or "").strip()))
    return {"description": "a runner action at a scenario time (scenarios/README.md, '[[nemesis]]')",
            "oneOf": variants}


def _policy() -> dict[str, Any]:
    from mfa_harness.server.policy import Policy

    from .spec import POLICY_ALIASES

    props: dict[str, Any] = {}
    for f in fields(Policy):
        kind = str(f.type)
        props[f.name] = ({"enum": ["invalidate", "keep"]} if f.name == "resend"
                         else POS_INT if "int" in kind else POSITIVE)
    props.update({alias: props[name] for alias, name in POLICY_ALIASES.items()})
    return _obj(props, description="portal policy overrides (server/policy.py)")


def scenario_schema() -> dict[str, Any]:
    """A scenario TOML file (scenarios/README.md)."""
    from mfa_harness.checker import INVARIANTS
    from mfa_harness.loadtests.persona_registry import PERSONA_NAMES
    from mfa_harness.server.population import PROGRAMS


    return {
        "$schema": DRAFT, "$id": "https://mfa-harness.invalid/schemas/scenario.schema.json",
        "title": "mfa-harness scenario", **_obj({
            "name": STRING, "description": STRING, "seed": {"type": "integer"},
            "time_scale": POSITIVE, "duration": {**POSITIVE, "description": "scenario seconds"},
            "bugs": {"type": "array", "items": STRING},
            "population": _obj({"partners": POS_INT,
                                "programs": _obj({p: {**NUMBER, "minimum": 0} for p in PROGRAMS}),
                                "team_size": {"oneOf": [POS_INT, {"type": "array", "items": POS_INT,
                                                                  "minItems": 2, "maxItems": 2}]}}),
            "load": _obj({"users": POS_INT, "spawn_rate": POSITIVE, "arrival_rate": POSITIVE,
                          "locust_args": {"type": "array", "items": STRING},
                          "allow_partial": {"type": "boolean", "description": "an early stop or fewer users than asked is not a problem"}}),
            "portal": _obj({"processes": POS_INT}),
            "personas": _obj({p: {**NUMBER, "minimum": 0} for p in PERSONA_NAMES}),
            "policy": _policy(),
            "faults": {"type": "array", "items": _fault_rule()},
            "nemesis": {"type": "array", "items": _nemesis_step()},
            "thresholds": {"type": "array", "items": {**STRING, "minLength": 1}},
            "expect": _obj({"violations": {"type": "integer"},
                            "invalid": {"type": "array", "items": {"enum": list(INVARIANTS)}}}),
        }, ["description", "personas"])}


def profile_schema() -> dict[str, Any]:
    """A target profile TOML file (loadtests/profiles/)."""
    from mfa_harness.loadtests.profile import (
        FIELDS,
        FORMS,
        OPTIONAL_FEATURES,
        OPTIONAL_PATHS,
        PAGES,
        PATHS,
        REASONS,
    )

    texts = {"oneOf": [STRING, {"type": "array", "items": STRING, "minItems": 1}]}

    def markers(names: tuple[str, ...]) -> dict[str, Any]:
        return _obj({"attr": STRING, **{n: STRING for n in names}, "contains": _obj({n: texts for n in names}),
                     "regex": _obj({n: texts for n in names})})

    def path(name: str) -> dict[str, Any]:
        if name in OPTIONAL_FEATURES:
            return {"oneOf": [{**STRING, "pattern": "^/"}, {"const": "none"}]}
        return {**STRING, "pattern": "^/"}

    form = _obj({"field": STRING, "action": STRING, "button": STRING, "confirm_field": STRING,
                 "static": {"type": "object", "additionalProperties": STRING}})

    return {
        "$schema": DRAFT, "$id": "https://mfa-harness.invalid/schemas/profile.schema.json",
        "title": "mfa-harness target profile", **_obj({
            "name": STRING,
            "paths": _obj({p: path(p) for p in PATHS + OPTIONAL_PATHS}, list(PATHS)),
            "fields": _obj({f: STRING for f in FIELDS}),
            "pages": markers(PAGES), "reasons": markers(REASONS),
            "mail": _obj({k: STRING for k in ("code_regex", "ref_regex", "ref_attr", "code_subject", "reset_subject",
                                              "reset_link_regex", "code_query", "reset_query")}, ["code_regex"]),
            "retry_after_scenario_header": STRING,
            "stat_names": {"type": "array", "items": {**STRING, "pattern": "^/"}},
            "forms": _obj({f: form for f in FORMS}),
            "policy": {"type": "object"},
            "extra": {"type": "object"},
        }, ["paths", "mail"])}


def _judged_policy() -> dict[str, Any]:
    """verdict.json's `policy` (scenarios/judged_policy.py): every rule the checker judges by."""
    from mfa_harness.checker.policy import DEFAULT_POLICY

    rule = _obj({"value": {"description": "the value judged by; \"none\" when the profile said so"},
                 "from": {**STRING, "description": "the profile or scenario key that set it, or the defaults"},
                 "judged_as": {"description": "what \"none\" means to the checker (no limit)"}}, ["value", "from"])
    return _obj({"source": STRING, "white_box": BOOL,
                 "rules": _obj({key: rule for key in DEFAULT_POLICY}, list(DEFAULT_POLICY)),
                 "not_judged": {"type": "object", "description": "the profile's other [policy] keys"}},
                ["source", "rules"], description="the policy the run was judged against, and where it came from")


def _server_answers() -> dict[str, Any]:
    """verdict.json's `server_answers` (scenarios/server_answers.py)."""
    count = {"type": "integer", "minimum": 0}
    excerpt = _obj({"status": {"type": "integer"}, "path": STRING, "title": STRING, "text": STRING, "chars": count},
                   ["status", "path", "title", "text"], description="bounded excerpt of the page")
    example = _obj({"op": STRING, "st": {"type": ["number", "null"]}, "status": {"type": ["integer", "null"]},
                    "path": {"type": ["string", "null"]}, "problem": STRING,
                    "excerpt": {"oneOf": [excerpt, {"type": "null"}]}}, ["op", "excerpt"])
    return _obj({"steps": count, "server_errors": count, "unclassified": count, "no_answer": count, "share": NUMBER,
                 "examples": {"type": "array"}, "unclassified_examples": {"type": "array", "items": example}},
                ["steps", "server_errors", "unclassified"], extra=True)


def verdict_schema() -> dict[str, Any]:
    """verdict.json, which every run writes (scenarios/verdict.py)."""
    from mfa_harness.checker import INVARIANTS

    answer = {"description": "true valid, false invalid, \"unknown\" no evidence",
              "oneOf": [BOOL, {"const": "unknown"}]}
    invariant = _obj({"valid": answer, "violations": {"type": "integer", "minimum": 0},
                      "examples": {"type": "array", "items": {"type": "array", "items": {"type": "object"}}},
                      "expected": {"enum": ["valid", "invalid"]}, "as_expected": BOOL},
                     ["valid", "expected", "as_expected"], extra=True)
    threshold = _obj({"passed": BOOL, "value": {"type": ["number", "null"]}}, ["passed"], extra=True)
    names = {"type": "array", "items": STRING}
    return {
        "$schema": DRAFT, "$id": "https://mfa-harness.invalid/schemas/verdict.schema.json",
        "title": "mfa-harness verdict.json", **_obj({
            "scenario": STRING, "seed": {"type": ["integer", "null"]}, "time_scale": {"type": ["number", "null"]},
            "passed": {**BOOL, "description": "invariants as expected, thresholds met, no problems"},
            "invariants_as_expected": BOOL, "thresholds_passed": BOOL,
            "invariants": _obj({n: invariant for n in INVARIANTS}, list(INVARIANTS)),
            "thresholds": {"type": "object", "additionalProperties": threshold},
            "metrics": {"type": "object", "description": "flow metrics (scenario seconds); names in scenarios/README.md"},
            "faults": {"type": "array"}, "bugs": names, "expected": {"type": "object"},
            "unexpected_invalid": names, "expected_invalid_not_shown": names,
            "unknown": _obj({"invariants": names, "strict": BOOL, "counted_as": {"enum": ["pass", "fail"]}}),
            "problems": names, "reproduce": STRING, "nemesis_errors": {"type": "array"},
            "policy": _judged_policy(), "server_answers": _server_answers(),
        }, ["scenario", "passed", "invariants", "thresholds", "metrics"], extra=True)}


SCHEMAS = {"scenario": scenario_schema, "profile": profile_schema, "verdict": verdict_schema}


def path_of(name: str) -> Path:
    """The shipped schema file for `scenario`, `profile` or `verdict`."""
    return SCHEMA_DIR / f"{name}.schema.json"


def render(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the shipped copies (`python -m mfa_harness.scenarios.schemas`)."""
    for name in SCHEMAS:
        path_of(name).write_text(render(name), encoding="utf-8")
        print(path_of(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
