"""Planted bugs (harness mode only): the one registry of them, for the portal and the checker.

Each bug is a flag checked in exactly one place in the portal's code; `grep -n "bug-name"` finds
it. They exist so that the checker can be shown to fail: each entry also says which invariants a
run against it must find invalid, white box and black box, and which catalogue scenario shows it
(`tests/e2e/test_catalogue.py` runs each). Plain data, so the portal reads it without importing
the harness; `tests/server/test_planted_bugs.py` keeps it and the portal's flags in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedBug:
    """What a planted bug does, and what a validation run against it must show."""

    description: str                   # one line, for --list-bugs
    invariants: tuple[str, ...]        # invalid white box; () when the portal's own events cannot show it
    scenario: str                      # the catalogue scenario that exposes it
    processes: int = 1                 # portal processes the bug needs to show
    # invalid black box (client + inbox + accounts); None: the same as white box; (): undecidable there
    black_box: tuple[str, ...] | None = None


PLANTED_BUGS: dict[str, PlantedBug] = {
    "code-reuse": PlantedBug(
        "a correct code is not consumed at verify, so it (and its login) can be used again",
        ("single_use",), "validation"),
    "race-on-verify": PlantedBug(
        "verify checks the code, yields, then consumes it unconditionally (not atomic)",
        ("single_use",), "validation"),
    "no-expiry": PlantedBug(
        "codes never expire",
        ("expiry",), "validation"),
    "expiry-off-by-minutes": PlantedBug(
        "codes are accepted up to 3 minutes after they expired",
        ("expiry",), "validation"),
    "wrong-recipient": PlantedBug(
        "the verification email goes to the username instead of the notification address",
        ("recipient",), "validation"),
    "no-resend-limit": PlantedBug(
        "resend has no cooldown and no per-challenge or per-account cap",
        ("resend_limits",), "validation"),
    "code-not-bound": PlantedBug(
        "any live code of the account opens any of its challenges",
        ("binding",), "validation"),
    "loop-after-verify": PlantedBug(
        "the session cookie is not set after a successful verify (login loop)",
        ("no_login_loops",), "validation"),
    "per-process-secret": PlantedBug(
        "each portal process signs cookies with its own secret (and closes connections after each response, like a load balancer)",
        ("no_login_loops",), "validation", processes=2),
    "affiliate-challenged": PlantedBug(
        "affiliates get an MFA challenge like partners",
        ("affiliates",), "validation"),
    "mfa-bypass": PlantedBug(
        "a pending (not yet verified) session is served /partner/account",
        ("mfa_required",), "validation"),
    "no-attempt-limit": PlantedBug(
        "wrong codes are never limited",
        ("attempt_limits",), "validation"),
    "early-expiry": PlantedBug(
        "codes are rejected as expired after 60 s although the policy says longer",
        ("no_false_rejections",), "validation"),
    "outbox-no-retry": PlantedBug(
        "a 4xx SMTP reply marks the mail failed for good instead of retrying",
        ("outbox",), "smtp-outage"),
    "resend-keeps-old-code": PlantedBug(
        "a resend does not void the older codes although the policy says it must",
        ("resend_limits",), "probes"),
    "mfa-bypass-after-reset": PlantedBug(
        "a password reset signs the user in with a full session, skipping MFA",
        ("mfa_required",), "probes"),
    # The portal logs codes only as HMACs: a repeat is visible only to a client comparing codes.
    "codes-repeat": PlantedBug(
        "every login of an account gets the same code (derived from the account, not random)",
        (), "probes", black_box=("single_use",)),
    "double-code": PlantedBug(
        "a sign-in sends two different codes (two mails) for one login attempt",
        ("resend_limits",), "probes"),
}


def validate_bugs(names: list[str]) -> frozenset[str]:
    """Return the set of bug names, or raise ValueError naming the first unknown one."""
    for name in names:
        if name not in PLANTED_BUGS:
            raise ValueError(f"unknown bug {name!r} (see --list-bugs)")
    return frozenset(names)


def describe() -> str:
    """The `--list-bugs` text: one `name — description` line per bug."""
    return "\n".join(f"{name} \u2014 {bug.description}" for name, bug in PLANTED_BUGS.items())
