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
with the origins run.json allows (its `policy` and `policy_source`). How a target profile's
`[policy]` keys become the checker's rules lives here too (`policy_rules`), once, for the run's
judgement (`checker_policy`) and for this account of it (`policy_origins`); no Locust import,
so `check` and the tests read it without gevent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mfa_harness.checker.policy import DEFAULT_POLICY, PORTAL_ALIASES

from .run_record import RunRecord

if TYPE_CHECKING:
    from mfa_harness.loadtests.profile import TargetProfile

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
    """One rule's value and origin; a rule with no value (None: not known) says "unknown"."""
    rule = _origin(record, key, value, announced)
    if rule["value"] is None:
        rule = {"value": "unknown", "judged_as": None, "from": rule["from"]}
    return rule


def _origin(record: RunRecord, key: str, value: Any, announced: dict[str, Any] | None) -> dict[str, Any]:
    origin = record.policy_origins.get(key)
    if origin:
        said = origin.get("said")
        rule: dict[str, Any] = {"value": "none" if said == "none" else value,
                                "from": f"{origin.get('from')}: {origin.get('key')} = {json.dumps(said, default=str)}"}
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
    judged = f", judged as {rule['judged_as']}" if rule.get("judged_as") is not None else ""
    return f"{value} ({rule.get('from')}{judged})"


# Profile policy keys -> the checker's (checker/policy.py DEFAULT_POLICY); "none" = no such rule.
UNLIMITED = 10 ** 9
POLICY_KEYS = {"code_lifetime_s": "code_ttl", "pending_login_lifetime_s": "challenge_ttl",
               "wrong_code_limit": "max_attempts", "resend_cooldown_s": "resend_cooldown",
               "resend_cap": "max_codes_per_challenge", "codes_per_account_hour": "max_codes_per_account_hour",
               "mail_window_s": "mail_window"}


def policy_rules(profile: TargetProfile) -> list[tuple[str, Any, str, Any]]:
    """(checker key, value judged by, profile key, what the profile said) for each rule of the profile's
    `[policy]` (or the drafts' `[extra.policy]`): limits given as "none" become no limit (a cooldown
    of 0, caps of 10**9), `mail_retry_within_s = "none"` stays unknown (None); `resend_voids_older`
    sets `resend`; `codes_repeat` (or `code_single_use = false`) says codes come back across logins."""
    raw = profile.policy
    out: list[tuple[str, Any, str, Any]] = []
    for key, target in POLICY_KEYS.items():
        if key in raw:
            value = raw[key]
            judged = (0.0 if key == "resend_cooldown_s" else UNLIMITED) if value == "none" else value
            out.append((target, judged, key, value))
    if "mail_retry_within_s" in raw:        # "none": not known, so a mail lost under a refusal is never blamed
        said = raw["mail_retry_within_s"]
        out.append(("mail_retry_within", None if said == "none" else said, "mail_retry_within_s", said))
    if "resend_voids_older" in raw:
        out.append(("resend", "invalidate" if raw["resend_voids_older"] else "keep", "resend_voids_older",
                    raw["resend_voids_older"]))
    if "codes_repeat" in raw:
        out.append(("codes_repeat", bool(raw["codes_repeat"]), "codes_repeat", raw["codes_repeat"]))
    elif raw.get("code_single_use") is False:
        out.append(("codes_repeat", True, "code_single_use", False))
    return out


def checker_policy(profile: TargetProfile) -> tuple[dict[str, Any], str]:
    """The policy a target run is judged against (`policy_rules`), and where it came from: the
    profile's `[policy]`, or without one the reference defaults, assumed."""
    if not profile.policy:
        return {}, "reference defaults (assumed: the profile declares no [policy])"
    return {key: judged for key, judged, _k, _s in policy_rules(profile)}, f"profile {profile.source} [policy]"


def policy_origins(profile: TargetProfile) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """For verdict.json's `policy`: each rule the profile sets ({"from", "key", "said"} by checker key),
    and the profile's other `[policy]` keys, which describe the target but judge nothing."""
    rules = policy_rules(profile)
    where = f"profile {profile.source} [policy]"
    origins = {key: {"from": where, "key": pkey, "said": said} for key, _j, pkey, said in rules}
    used = {pkey for _k, _j, pkey, _s in rules}
    return origins, {k: v for k, v in profile.policy.items() if k not in used}
