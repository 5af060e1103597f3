"""Pure persona decisions: typos, guesses, slow typing, resend timing (seeded RNG in, values out).

Kept apart from the flows so each rule can be unit-tested without a portal.
"""

from __future__ import annotations

import random

CODE_LIFETIME_ST = 300.0          # the product's five minutes; slow typers aim past it


def typo(code: str, rng: random.Random) -> str:
    """The code with one digit changed (never equal to the original)."""
    if not code:
        return "000000"
    i = rng.randrange(len(code))
    old = code[i]
    choices = [d for d in "0123456789" if d != old]
    return code[:i] + rng.choice(choices) + code[i + 1:]


def random_code(rng: random.Random, digits: int = 6) -> str:
    return "".join(rng.choice("0123456789") for _ in range(digits))


def user_rng(seed: int | None, persona: str, username: str) -> random.Random:
    """One simulated user's own generator: the same seed, persona and account draw the same
    choices in every run and every worker process; no seed means fresh randomness."""
    if seed is None:
        return random.Random()
    return random.Random(f"{seed}:{persona}:{username}")


def slow_typer_delay(flow_index: int, rng: random.Random, lifetime_st: float = CODE_LIFETIME_ST) -> float:
    """Scenario seconds a slow typer takes to type the code.

    Flow 1 always misses the expiry (so every run shows the refusal) and flow 2 always types it
    in time but late, at 40 to 70 % of the lifetime, so a portal that expires codes early is
    caught refusing a good one. The 30 % left is for black box: a checker without the portal's
    events knows a code's age only as the time from the sign-in to the refusal, so a code typed
    just before its end can look too old to judge once a loaded machine stretches the flow (at
    x60 a second of wall time is a scenario minute). A persona that starts at flow 2 shows the
    second case first. Later flows miss half of the time and otherwise type anywhere from 30 s
    to 30 s before the expiry.
    """
    if flow_index <= 1:
        return lifetime_st + rng.uniform(20.0, 90.0)
    if flow_index == 2:
        return rng.uniform(0.4 * lifetime_st, 0.7 * lifetime_st)
    if rng.random() < 0.5:
        return lifetime_st + rng.uniform(20.0, 90.0)
    return rng.uniform(30.0, max(30.0, lifetime_st - 30.0))


def resend_schedule(resend_after_st: float, code_timeout_st: float, max_resends: int) -> list[float]:
    """How long to wait (scenario s) before each resend, then the final wait; never past the timeout."""
    waits: list[float] = []
    left = code_timeout_st
    for _ in range(max_resends):
        if left <= resend_after_st:
            break
        waits.append(resend_after_st)
        left -= resend_after_st
    waits.append(left)
    return waits


def outcome_of_verify(reason: str) -> str:
    """A verify failure reason -> the flow outcome it ends in."""
    return {"ok": "ok", "wrong": "wrong_code", "expired": "expired", "too_many": "too_many_attempts",
            "loop": "loop", "cookies_blocked": "cookies_blocked", "rate_limited": "rate_limited"}.get(reason, "error")
