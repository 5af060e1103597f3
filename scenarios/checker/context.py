"""What the checker needs to know besides the history: policy, mode, time scale, fault plan.

Kept apart from the invariants so each invariant stays a pure function of (index, context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_POLICY: dict[str, Any] = {
    "code_ttl": 300.0,
    "challenge_ttl": 600.0,
    "max_attempts": 5,
    "resend_cooldown": 30.0,
    "max_codes_per_challenge": 5,
    "max_codes_per_account_hour": 10,
    "resend": "invalidate",
    "codes_repeat": False,      # per-login codes; True for time-based codes that repeat across logins
    "mail_window": 300.0,       # scenario seconds a code mail may take before "it never came"
}
_NUMERIC = ("code_ttl", "challenge_ttl", "max_attempts", "resend_cooldown",
            "max_codes_per_challenge", "max_codes_per_account_hour", "mail_window")
# The portal announces its policy (`portal_started.policy`) under its own names.
PORTAL_ALIASES = {"code_lifetime": "code_ttl", "pending_lifetime": "challenge_ttl"}
# Fault kinds that can keep an email in the portal's outbox (inbox refusals, portal down).
OUTAGE_KINDS = frozenset({"outage", "tempfail", "permfail", "rate-limit", "kill-portal"})


@dataclass
class CheckContext:
    """Run facts the invariants read; `policy` is completed with the portal's defaults.

    `policy` may use the scenario names (code_ttl, challenge_ttl) or the portal's own
    (code_lifetime, pending_lifetime, as in `portal_started`); other keys are kept as given.

    `white_box` says the portal's event log is part of the history (reference portal); with
    False (foreign target) invariants that need portal events can only be invalid or unknown.
    """

    policy: dict[str, Any] = field(default_factory=dict)
    white_box: bool = True
    time_scale: float = 1.0
    fault_plan: dict[str, Any] = field(default_factory=dict)
    bugs: list[str] = field(default_factory=list)
    accounts: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.policy, dict):
            raise ValueError(f"policy must be a dict, got {type(self.policy).__name__}")
        given = {k: v for k, v in self.policy.items() if v is not None}
        for portal_name, name in PORTAL_ALIASES.items():
            if portal_name in given and name not in given:
                given[name] = given[portal_name]
        merged = {**DEFAULT_POLICY, **given}
        for key in _NUMERIC:
            value = merged[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"policy {key} must be a non-negative number, got {value!r}")
        if merged["resend"] not in ("invalidate", "keep"):
            raise ValueError(f"policy resend must be 'invalidate' or 'keep', got {merged['resend']!r}")
        if not isinstance(merged["codes_repeat"], bool):
            raise ValueError(f"policy codes_repeat must be true or false, got {merged['codes_repeat']!r}")
        self.policy = merged
        if not isinstance(self.time_scale, int | float) or self.time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale!r}")
        self.time_scale = float(self.time_scale)

    @property
    def margin_st(self) -> float:
        """Scenario seconds of slack between a portal decision and the `st` it logs.

        50 ms of wall time at least: at a time scale of 100 that is 5 scenario seconds.
        """
        return max(0.5, 0.05 * self.time_scale)

    @property
    def outbox_grace_wall(self) -> float:
        """Wall seconds a correct outbox may need after a retry becomes possible (backoff)."""
        return max(15.0, 120.0 / self.time_scale)
