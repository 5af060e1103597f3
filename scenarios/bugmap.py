"""Which invariant each planted portal bug must break, and what a run needs to expose it.

The portal owns the bugs (`python -m mfa_harness.server --list-bugs`); this map is the checker's side of the
bargain: a validation run with `--bug NAME` passes only when these invariants come out invalid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedBug:
    """A portal bug, the invariants it must violate and the catalogue scenario that exposes it."""

    invariants: tuple[str, ...]        # white box; () when the portal's own events cannot show it
    scenario: str
    processes: int = 1                 # portal processes the bug needs to show
    black_box: tuple[str, ...] | None = None   # black box (client + inbox + accounts); None: the same


PLANTED_BUGS: dict[str, PlantedBug] = {
    "code-reuse": PlantedBug(("single_use",), "validation"),
    "race-on-verify": PlantedBug(("single_use",), "validation"),
    "no-expiry": PlantedBug(("expiry",), "validation"),
    "expiry-off-by-minutes": PlantedBug(("expiry",), "validation"),
    "wrong-recipient": PlantedBug(("recipient",), "validation"),
    "no-resend-limit": PlantedBug(("resend_limits",), "validation"),
    # Black box a second tab's form may carry its own challenge: only the portal knows which one opened.
    "code-not-bound": PlantedBug(("binding",), "validation", black_box=()),
    "loop-after-verify": PlantedBug(("no_login_loops",), "validation"),
    "per-process-secret": PlantedBug(("no_login_loops",), "validation", processes=2),
    "affiliate-challenged": PlantedBug(("affiliates",), "validation"),
    "mfa-bypass": PlantedBug(("mfa_required",), "validation"),
    "no-attempt-limit": PlantedBug(("attempt_limits",), "validation"),
    "early-expiry": PlantedBug(("no_false_rejections",), "validation"),
    # Black box a mail lost under an injected SMTP fault is counted, never blamed.
    "outbox-no-retry": PlantedBug(("outbox",), "smtp-outage", black_box=()),
    "resend-keeps-old-code": PlantedBug(("resend_limits",), "probes"),
    "mfa-bypass-after-reset": PlantedBug(("mfa_required",), "probes"),
    # The portal logs codes only as HMACs: a repeat is visible only to a client comparing codes.
    "codes-repeat": PlantedBug((), "probes", black_box=("single_use",)),
    "double-code": PlantedBug(("resend_limits",), "probes"),
}
