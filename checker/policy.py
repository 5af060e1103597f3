"""The MFA policy both sides share: the product's defaults, the two spellings of a key, the checks.

The portal enforces these rules (`server/policy.py` takes its defaults from here) and the checker
judges a history against them, so the numbers live once, on the checker's side: the checker
package imports nothing else of the project. Durations are scenario seconds.
"""

from __future__ import annotations

from typing import Any

RESEND_MODES = ("invalidate", "keep")

# The product's rules (issue 2, "MFA policy") under the portal's own key names.
PRODUCT_DEFAULTS: dict[str, Any] = {
    "code_lifetime": 300.0,                 # a code opens its challenge for 5 minutes
    "pending_lifetime": 600.0,              # a pending login (challenge) lives 10 minutes
    "max_attempts": 5,                      # wrong codes per challenge, then the challenge is dead
    "resend_cooldown": 30.0,
    "max_codes_per_challenge": 5,
    "max_codes_per_account_hour": 10,       # codes (login ones count) before a resend is refused
    "resend": "invalidate",                 # or "keep": a resend leaves the older codes usable
}
# The checker's names (also accepted in a scenario's `[policy]`) -> the portal's.
CHECKER_ALIASES: dict[str, str] = {"code_ttl": "code_lifetime", "challenge_ttl": "pending_lifetime"}
# The portal announces its policy (`portal_started.policy`) under its own names.
PORTAL_ALIASES: dict[str, str] = {portal: checker for checker, portal in CHECKER_ALIASES.items()}

# What the checker assumes when the run says nothing: the product's rules under the checker's names,
# and two facts only the checker needs.
DEFAULT_POLICY: dict[str, Any] = {
    **{PORTAL_ALIASES.get(key, key): value for key, value in PRODUCT_DEFAULTS.items()},
    "codes_repeat": False,      # per-login codes; True for time-based codes that repeat across logins
    "mail_window": 300.0,       # scenario seconds a code mail may take before "it never came"
    # Scenario seconds after the inbox stops refusing mail temporarily (4xx, connection refused) within
    # which the portal retries and the refused code mail arrives, unless its code expired first.
    # None: not known (foreign portals unless their profile says), so a lost mail is never blamed.
    "mail_retry_within": None,
}
_NUMERIC = ("code_ttl", "challenge_ttl", "max_attempts", "resend_cooldown",
            "max_codes_per_challenge", "max_codes_per_account_hour", "mail_window")


def checker_policy(given: dict[str, Any]) -> dict[str, Any]:
    """`given` completed with the defaults, under the checker's names; ValueError names a bad key.

    `given` may use the scenario names (code_ttl, challenge_ttl) or the portal's own (code_lifetime,
    pending_lifetime, as in `portal_started`); other keys are kept as given, None means "not said".
    """
    if not isinstance(given, dict):
        raise ValueError(f"policy must be a dict, got {type(given).__name__}")
    said = {k: v for k, v in given.items() if v is not None}
    for portal_name, name in PORTAL_ALIASES.items():
        if portal_name in said and name not in said:
            said[name] = said[portal_name]
    merged = {**DEFAULT_POLICY, **said}
    for key in _NUMERIC:
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"policy {key} must be a non-negative number, got {value!r}")
    if merged["resend"] not in RESEND_MODES:
        raise ValueError(f"policy resend must be 'invalidate' or 'keep', got {merged['resend']!r}")
    retry = merged["mail_retry_within"]
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int | float) or retry < 0):
        raise ValueError(f"policy mail_retry_within must be a non-negative number or none, got {retry!r}")
    if not isinstance(merged["codes_repeat"], bool):
        raise ValueError(f"policy codes_repeat must be true or false, got {merged['codes_repeat']!r}")
    return merged
