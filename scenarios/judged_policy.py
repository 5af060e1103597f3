"""verdict.json's `policy`: the rules a run was judged against, each with its value and where it came from.

A verdict means little without the rules behind it: "resend_limits valid" under a cap of 5 is
not the same finding as under no cap at all. So the verdict (and junit.xml and the report) says,
for every rule the checker judges by (checker/policy.py DEFAULT_POLICY), the value used and its
origin:

- a black-box (`--target`) run: the target profile's `[policy]` key that set it (and what the
  profile said, "none" included), else the reference defaults, *assumed*;
- a white-box run (the local reference portal): the scenario's `[policy]` when it set the rule,
  else the reference portal's own policy as it announced it at start (`portal_started`), else
  the reference default (codes per login, the checker's mail window).

Where each rule came from is recorded in run.json when the run starts (`policy_origins`), so
`mfa-harness check DIR` rebuilds the same block; an older run.json without it still gets a block,
with the origins run.json allows (its `policy` and `policy_source`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mfa_harness.checker.policy import DEFAULT_POLICY, PORTAL_ALIASES

from .run_record import RunRecord

if TYPE_CHECKING:
    from .spec import Scenario

ASSUMED = "reference defaults (assumed)"
ANNOUNCED = "the reference portal's own policy (announced at start)"


def announced_policy(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The policy the reference portal announced in `portal_started` (its own key names), or None."""
    for row in history:
        if row.get("src") == "portal" and row.get("event") == "portal_started" and row.get("policy"):
            return dict(row["policy"])
    return None


def scenario_origins(sc: Scenario) -> dict[str, dict[str, Any]]:
    """checker key -> {"from", "key", "said"} for each rule the scenario's `[policy]` sets."""
    return {PORTAL_ALIASES.get(key, key): {"from": f"scenario {sc.name} [policy]", "key": key, "said": value}
            for key, value in sc.policy.items() if PORTAL_ALIASES.get(key, key) in DEFAULT_POLICY}


def _old_origin(record: RunRecord, key: str) -> str | None:
    """The origin an older run.json (no `policy_origins`) allows for `key`: its `policy` set it."""
    names = {key} | {portal for portal, checker in PORTAL_ALIASES.items() if checker == key}
    if not names & set(record.policy):
        return None
    if record.white_box:
        return f"scenario {record.scenario} [policy]"
    return record.policy_source or "run.json policy"


def _rule(record: RunRecord, key: str, value: Any, announced: dict[str, Any] | None) -> dict[str, Any]:
    origin = record.policy_origins.get(key)
    if origin:
        said = origin.get("said")
        rule: dict[str, Any] = {"value": "none" if said == "none" else value,
                                "from": f"{origin.get('from')}: {origin.get('key')} = {said!r}"}
        if said == "none":
            rule["judged_as"] = value            # what "no such rule" means to the checker
        return rule
    old = None if record.policy_origins else _old_origin(record, key)
    if old:
        return {"value": value, "from": old}
    portal_names = {key} | {p for p, c in PORTAL_ALIASES.items() if c == key}
    if record.white_box and announced is not None and portal_names & set(announced):
        return {"value": value, "from": ANNOUNCED}
    return {"value": value, "from": ASSUMED if not record.white_box else "reference default"}


def policy_source(record: RunRecord, announced: dict[str, Any] | None) -> str:
    """In one phrase, where the judged policy came from (the run's mode decides which sources exist)."""
    if not record.white_box:
        return record.policy_source or ASSUMED
    overrides = f"; scenario {record.scenario} [policy] overrides" if record.policy else ""
    if announced is not None:
        return ANNOUNCED + overrides
    return "the scenario's [policy] and the reference defaults (the portal announced none)" if record.policy \
        else "reference defaults (the portal announced no policy)"


def policy_block(record: RunRecord, history: list[dict[str, Any]], judged: dict[str, Any]) -> dict[str, Any]:
    """{"source", "white_box", "rules": {key: {"value", "from"[, "judged_as"]}}[, "not_judged"]};
    `judged` is the checker's complete policy (CheckContext.policy)."""
    announced = announced_policy(history) if record.white_box else None
    block: dict[str, Any] = {
        "source": policy_source(record, announced), "white_box": bool(record.white_box),
        "rules": {key: _rule(record, key, judged.get(key), announced) for key in DEFAULT_POLICY},
    }
    if record.policy_not_judged:
        block["not_judged"] = dict(record.policy_not_judged)
    return block


def rule_text(rule: dict[str, Any]) -> str:
    """`300.0 (profile x.toml [policy]: code_lifetime_s = 300)`: one rule as people read it."""
    value = rule.get("value")
    judged = f", judged as {rule['judged_as']}" if "judged_as" in rule else ""
    return f"{value} ({rule.get('from')}{judged})"
