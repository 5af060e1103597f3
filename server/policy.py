"""MFA policy: the product's defaults, overridable from a TOML file (`--policy FILE`).

Every duration is in scenario seconds (see docs/interfaces.md "Time"), so a scenario run at
`--time-scale 60` keeps the product's five-minute expiry while taking five wall seconds.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from mfa_harness.checker.policy import PRODUCT_DEFAULTS, RESEND_MODES

# What the argon2 reference implementation accepts (argon2.h: ARGON2_MIN/MAX_TIME, _MEMORY in KiB,
# _LANES); memory must also be at least 8 KiB per lane, checked against the profile's parallelism
# in `passwords.argon2_parameters`.
ARGON2_BOUNDS = {
    "password_time_cost": (1, 2 ** 32 - 1),
    "password_memory_cost": (8, 2 ** 32 - 1),
    "password_parallelism": (1, 2 ** 24 - 1),
}


class PolicyError(ValueError):
    """A policy file or override that cannot be applied; the message names the key."""


@dataclass(frozen=True)
class Policy:
    """The effective MFA policy. Defaults are the product's (issue 2, "MFA policy")."""

    # the product rules the checker also judges by: defined once, in checker/policy.py
    code_lifetime: float = PRODUCT_DEFAULTS["code_lifetime"]
    pending_lifetime: float = PRODUCT_DEFAULTS["pending_lifetime"]
    max_attempts: int = PRODUCT_DEFAULTS["max_attempts"]
    resend_cooldown: float = PRODUCT_DEFAULTS["resend_cooldown"]
    max_codes_per_challenge: int = PRODUCT_DEFAULTS["max_codes_per_challenge"]
    max_codes_per_account_hour: int = PRODUCT_DEFAULTS["max_codes_per_account_hour"]
    # Guessing and mail-bombing bounds (README "Security"): a login gets no new code while the
    # account has this many unused codes from the last hour ...
    max_unused_codes_per_account_hour: int = 10
    # ... or this many wrong codes in the last hour on sign-ins that did not succeed (a code is
    # then not even checked), or this many such wrong codes since the last successful sign-in
    # (NIST SP 800-63B 5.2.2: at most 100; then only a password change or support unfreezes it)
    max_wrong_codes_per_account_hour: int = 10
    max_wrong_codes_before_freeze: int = 100
    # forgot-password: reset links not (yet) used, per account and per client address, per hour
    max_resets_per_account_hour: int = 3
    max_resets_per_client_hour: int = 20
    resend: str = PRODUCT_DEFAULTS["resend"]  # one of RESEND_MODES
    reset_token_lifetime: float = 1800.0
    session_lifetime: float = 28800.0
    login_free_failures: int = 5  # password failures before the per-account backoff starts
    login_backoff_base: float = 2.0
    login_backoff_max: float = 300.0
    smtp_backoff_initial: float = 2.0  # outbox retry backoff (scenario s), doubles per attempt
    smtp_backoff_max: float = 30.0
    smtp_timeout: float = 10.0  # wall seconds for one SMTP conversation
    # argon2id cost; None keeps the value of `--password-profile` (see server/passwords.py)
    password_time_cost: int | None = None  # passes over the memory
    password_memory_cost: int | None = None  # KiB
    password_parallelism: int | None = None  # lanes (and threads)

    def __post_init__(self) -> None:
        if self.resend not in RESEND_MODES:
            raise PolicyError(f"policy key 'resend' must be \"invalidate\" or \"keep\", not {self.resend!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", "int") and value <= 0:
                raise PolicyError(f"policy key {f.name!r} must be > 0, not {value!r}")
        for key, (low, high) in ARGON2_BOUNDS.items():
            value = getattr(self, key)
            if value is not None and not low <= value <= high:
                raise PolicyError(f"policy key {key!r} must be between {low} and {high}, not {value!r}")

    def password_overrides(self) -> dict[str, int]:
        """The argon2 parameters this policy sets, under argon2-cffi's names (time_cost, ...)."""
        return {key.removeprefix("password_"): getattr(self, key) for key in ARGON2_BOUNDS
                if getattr(self, key) is not None}

    def as_dict(self) -> dict[str, Any]:
        """The policy as plain JSON-able data (for the `portal_started` event)."""
        return dataclasses.asdict(self)


def policy_from_mapping(data: dict[str, Any], base: Policy | None = None) -> Policy:
    """Apply overrides to `base` (default: the product's policy), checking names and types."""
    base = base or Policy()
    known = {f.name: f.type for f in fields(Policy)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise PolicyError(f"unknown policy key {key!r} (known: {', '.join(sorted(known))})")
        kind = known[key].removesuffix(" | None")  # optional keys: TOML has no null, so a value is given
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(f"policy key {key!r} must be a number, not {value!r}")
            value = float(value)
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicyError(f"policy key {key!r} must be an integer, not {value!r}")
        elif kind == "str" and not isinstance(value, str):
            raise PolicyError(f"policy key {key!r} must be a string, not {value!r}")
        changes[key] = value
    return dataclasses.replace(base, **changes)


def load_policy(path: str | Path) -> Policy:
    """Read a TOML policy file: top-level keys (or a `[policy]` table) override the defaults."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc
    if set(data) == {"policy"} and isinstance(data["policy"], dict):
        data = data["policy"]
    return policy_from_mapping(data)
