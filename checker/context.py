"""What the checker needs to know besides the history: policy, mode, time scale, fault plan.

Kept apart from the invariants so each invariant stays a pure function of (index, context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .policy import checker_policy

# Fault kinds that can keep an email in the portal's outbox (inbox refusals, portal down).
OUTAGE_KINDS = frozenset({"outage", "tempfail", "permfail", "rate-limit", "kill-portal"})


@dataclass
class CheckContext:
    """Run facts the invariants read; `policy` is completed with the product's defaults (`policy.py`).

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
        self.policy = checker_policy(self.policy)
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
