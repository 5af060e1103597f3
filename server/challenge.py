"""Pure MFA state machine: what verify, resend and a login attempt are allowed to do.

No I/O and no clock: the caller passes the stored state and `now` (scenario seconds), and
gets a decision back. The Tornado handlers and SQLite layer only carry the decision out, so
every rule (expiry boundaries, attempt limits, resend caps, both resend policies) is tested
here with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .policy import Policy

HOUR = 3600.0


@dataclass(frozen=True)
class ChallengeState:
    """One login attempt as stored."""

    id: int
    partner_id: int
    expires_at: float  # end of the pending-login lifetime
    wrong_attempts: int = 0
    status: str = "pending"  # pending | done | dead (too many wrong codes) | expired


@dataclass(frozen=True)
class CodeState:
    """One issued code as stored (never the plaintext)."""

    id: int
    challenge_id: int
    issued_at: float
    expires_at: float
    used: bool = False
    voided: bool = False


@dataclass(frozen=True)
class VerifyDecision:
    """ok=True: consume `code_id`. Otherwise `reason` is the event reason."""

    ok: bool
    reason: str | None = None
    code_id: int | None = None
    count_wrong: bool = False  # add one to the challenge's wrong attempts
    kill: bool = False  # the challenge is dead from now on
    cap: str | None = None  # the account's guess budget refused to check the code (`guess_budget`)


@dataclass(frozen=True)
class ResendDecision:
    allowed: bool
    reason: str | None = None
    retry_after: float = 0.0  # scenario seconds
    codes_in_challenge: int = 0
    codes_in_hour: int = 0
    void_older: bool = False


@dataclass(frozen=True)
class Budget:
    """A rate budget's answer: go, or refused for `reason` until `retry_after` scenario s pass."""

    allowed: bool
    reason: str | None = None
    retry_after: float = 0.0


GO = Budget(True)


def effective_expiry(code: CodeState, policy: Policy, bugs: frozenset[str]) -> float:
    """When the code stops being accepted, including the expiry-related planted bugs."""
    if "no-expiry" in bugs:
        return float("inf")
    if "expiry-off-by-minutes" in bugs:
        return code.expires_at + 180.0
    if "early-expiry" in bugs:
        return min(code.expires_at, code.issued_at + 60.0)
    return code.expires_at


def code_usable(code: CodeState, now: float, policy: Policy, bugs: frozenset[str]) -> bool:
    """A code opens its challenge while unused, not voided and before its expiry."""
    return not code.used and not code.voided and now < effective_expiry(code, policy, bugs)


def attempts_limited(bugs: frozenset[str]) -> bool:
    return "no-attempt-limit" not in bugs


def decide_verify(challenge: ChallengeState, matches: list[CodeState], now: float, policy: Policy,
                  bugs: frozenset[str] = frozenset(), budget: Budget = GO) -> VerifyDecision:
    """Decide a code submission.

    `matches` are the stored codes whose HMAC equals the submitted code's, drawn from the codes
    that may open this challenge (its own codes; the caller widens that for `code-not-bound`).
    A code that matches nothing, or only a voided code, is a wrong attempt; expired and used
    codes are not. The wrong attempt that reaches `max_attempts` kills the challenge and is
    answered `too_many`, so a challenge logs at most `max_attempts - 1` `wrong` events.
    With the account's guess `budget` spent, no code is checked: `too_many`, and the challenge dies.
    """
    if challenge.status == "done":
        return VerifyDecision(False, "no_challenge")
    if challenge.status == "dead":
        return VerifyDecision(False, "too_many")
    if challenge.status == "expired":
        return VerifyDecision(False, "challenge_dead")
    if now >= challenge.expires_at:
        return VerifyDecision(False, "challenge_dead", kill=True)
    if not budget.allowed:
        return VerifyDecision(False, "too_many", kill=True, cap=budget.reason)
    limited = attempts_limited(bugs)
    if limited and challenge.wrong_attempts >= policy.max_attempts:
        return VerifyDecision(False, "too_many", kill=True)
    usable = [c for c in matches if code_usable(c, now, policy, bugs)]
    if usable:
        return VerifyDecision(True, code_id=max(usable, key=lambda c: c.issued_at).id)
    newest = max(matches, key=lambda c: c.issued_at) if matches else None
    if newest is not None and newest.used:
        return VerifyDecision(False, "used", code_id=newest.id)
    if newest is not None and not newest.voided:
        return VerifyDecision(False, "expired", code_id=newest.id)
    # no match, or a voided code (replaced by a resend, address changed): a wrong code
    code_id = newest.id if newest is not None else None
    if limited and challenge.wrong_attempts + 1 >= policy.max_attempts:
        return VerifyDecision(False, "too_many", code_id=code_id, count_wrong=True, kill=True)
    return VerifyDecision(False, "wrong", code_id=code_id, count_wrong=True)


def decide_resend(challenge: ChallengeState, challenge_code_times: list[float],
                  account_code_times: list[float], now: float, policy: Policy,
                  bugs: frozenset[str] = frozenset()) -> ResendDecision:
    """Decide a "send another code" request.

    `challenge_code_times`: issue times of every code of this challenge; `account_code_times`:
    issue times of the account's codes (any challenge), the caller may pass only the last hour.
    """
    in_hour = [t for t in account_code_times if now - HOUR < t <= now]
    counts = {"codes_in_challenge": len(challenge_code_times), "codes_in_hour": len(in_hour)}
    if challenge.status != "pending" or now >= challenge.expires_at:
        return ResendDecision(False, "challenge_dead", 0.0, **counts)
    if "no-resend-limit" not in bugs:
        if challenge_code_times:
            ready = max(challenge_code_times) + policy.resend_cooldown
            if now < ready:
                return ResendDecision(False, "cooldown", ready - now, **counts)
        if len(challenge_code_times) >= policy.max_codes_per_challenge:
            return ResendDecision(False, "challenge_cap", max(0.0, challenge.expires_at - now), **counts)
        if len(in_hour) >= policy.max_codes_per_account_hour:
            return ResendDecision(False, "account_cap", min(in_hour) + HOUR - now, **counts)
    return ResendDecision(True, None, 0.0, codes_in_challenge=counts["codes_in_challenge"] + 1,
                          codes_in_hour=counts["codes_in_hour"] + 1,
                          void_older=policy.resend == "invalidate")


def login_retry_after(failures: int, last_failure_at: float | None, now: float, policy: Policy) -> float:
    """Seconds (scenario) the account must wait before the next password attempt; 0 = go."""
    if last_failure_at is None or failures < policy.login_free_failures:
        return 0.0
    delay = min(policy.login_backoff_max,
                policy.login_backoff_base * 2 ** (failures - policy.login_free_failures))
    return max(0.0, last_failure_at + delay - now)


def _hourly(times: list[float], cap: int, now: float, reason: str) -> Budget:
    """Refuse when `cap` of `times` fall in the hour before `now`; retry when the oldest leaves it."""
    in_hour = sorted(t for t in times if now - HOUR < t <= now)
    if len(in_hour) < cap:
        return GO
    return Budget(False, reason, max(0.0, in_hour[len(in_hour) - cap] + HOUR - now))


def guess_budget(failed_times: list[float], unanswered: int, now: float, policy: Policy,
                 bugs: frozenset[str] = frozenset()) -> Budget:
    """May a code of this account be checked at all?

    `failed_times`: when the account's wrong codes were entered, counting only sign-ins that did
    not succeed (a typo followed by the right code is not a guess); `unanswered`: such wrong
    codes since the account's last successful sign-in. The hourly cap bounds an attacker who has
    the password to `max_wrong_codes_per_account_hour` guesses an hour, whoever else signs in;
    past `max_wrong_codes_before_freeze` the account takes no code until its password changes.
    """
    if not attempts_limited(bugs):
        return GO
    if unanswered >= policy.max_wrong_codes_before_freeze:
        return Budget(False, "guess_freeze", HOUR)
    return _hourly(failed_times, policy.max_wrong_codes_per_account_hour, now, "guess_cap")


def login_code_budget(unused_code_times: list[float], failed_times: list[float], unanswered: int, now: float,
                      policy: Policy, bugs: frozenset[str] = frozenset()) -> Budget:
    """May a correct password open a new challenge (and mail a new code)?

    Refused while the account has `max_unused_codes_per_account_hour` codes from the last hour
    that nobody used (what one can mail to an inbox without reading it), or while its codes
    cannot be checked anyway (`guess_budget`): a new code would only be another email.
    """
    guess = guess_budget(failed_times, unanswered, now, policy, bugs)
    if not guess.allowed:
        return guess
    return _hourly(unused_code_times, policy.max_unused_codes_per_account_hour, now, "code_cap")


def reset_budget(account_unused: list[float] | None, client_unused: list[float], now: float,
                 policy: Policy) -> Budget:
    """May forgot-password mail a reset link? Times of the last hour's requests whose link was
    not used: of this account (None: no such account) and of this client address."""
    client = _hourly(client_unused, policy.max_resets_per_client_hour, now, "client_cap")
    if not client.allowed or account_unused is None:
        return client
    return _hourly(account_unused, policy.max_resets_per_account_hour, now, "account_cap")


def sanitize_next(target: str | None, default: str = "/partner/account") -> str:
    """Accept only a relative same-site path that is not the login or verify page.

    Characters outside ASCII are percent-encoded (UTF-8), so the redirect's Location header can
    always be written: checked at login, before any code is consumed for it."""
    if not target or not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return default
    if any(ch in target for ch in "\r\n\t\\") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    target = "".join(ch if ord(ch) < 0x80 else quote(ch, safe="") for ch in target)
    path = target.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if path in ("/partner/login", "/partner/verify") or path.startswith("/partner/verify/"):
        return default
    return target
