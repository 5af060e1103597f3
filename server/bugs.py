"""Planted bugs (harness mode only): name -> one-line description.

Each bug is a flag checked in exactly one place in the code; `grep -n "bug-name"` finds it.
They exist so that the checker can be shown to fail (see scenarios/bugmap.py).
"""

from __future__ import annotations

BUGS: dict[str, str] = {
    "code-reuse": "a correct code is not consumed at verify, so it (and its login) can be used again",
    "race-on-verify": "verify checks the code, yields, then consumes it unconditionally (not atomic)",
    "no-expiry": "codes never expire",
    "expiry-off-by-minutes": "codes are accepted up to 3 minutes after they expired",
    "wrong-recipient": "the verification email goes to the username instead of the notification address",
    "no-resend-limit": "resend has no cooldown and no per-challenge or per-account cap",
    "code-not-bound": "any live code of the account opens any of its challenges",
    "loop-after-verify": "the session cookie is not set after a successful verify (login loop)",
    "per-process-secret": "each portal process signs cookies with its own secret (and closes connections after each response, like a load balancer)",
    "affiliate-challenged": "affiliates get an MFA challenge like partners",
    "mfa-bypass": "a pending (not yet verified) session is served /partner/account",
    "no-attempt-limit": "wrong codes are never limited",
    "early-expiry": "codes are rejected as expired after 60 s although the policy says longer",
    "outbox-no-retry": "a 4xx SMTP reply marks the mail failed for good instead of retrying",
    "resend-keeps-old-code": "a resend does not void the older codes although the policy says it must",
    "codes-repeat": "every login of an account gets the same code (derived from the account, not random)",
    "mfa-bypass-after-reset": "a password reset signs the user in with a full session, skipping MFA",
    "double-code": "a sign-in sends two different codes (two mails) for one login attempt",
}


def validate_bugs(names: list[str]) -> frozenset[str]:
    """Return the set of bug names, or raise ValueError naming the first unknown one."""
    for name in names:
        if name not in BUGS:
            raise ValueError(f"unknown bug {name!r} (see --list-bugs)")
    return frozenset(names)


def describe() -> str:
    """The `--list-bugs` text: one `name — description` line per bug."""
    return "\n".join(f"{name} \u2014 {text}" for name, text in BUGS.items())
