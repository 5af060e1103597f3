"""argon2id password hashing, run in a thread pool so it never blocks the event loop (except a
cost so small that the hand-off to a thread would cost more than the hash: see `INLINE_MAX_KIB_PASSES`).

Profiles: `default` (argon2-cffi's recommended cost, RFC 9106 low-memory) and `cheap` (minimal
cost, for load runs where thousands of logins would otherwise measure the hash instead of the
portal). The policy's `password_time_cost`, `password_memory_cost` (KiB) and
`password_parallelism` override single parameters of the chosen profile. A stored hash carries
its own parameters, so hashes made under another cost still verify.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from .policy import Policy, PolicyError

PROFILES = {
    "default": {"time_cost": RFC_9106_LOW_MEMORY.time_cost, "memory_cost": RFC_9106_LOW_MEMORY.memory_cost,
                "parallelism": RFC_9106_LOW_MEMORY.parallelism},
    "cheap": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
}
KIB_PER_LANE = 8  # argon2 needs at least 8 KiB of memory per lane
# One lane and at most this many KiB x passes: verified on the calling (event loop) thread. The
# cheap profile (8 KiB, one pass) verifies in ~20 us of CPU; through the pool the same verify cost
# ~56 us (future, queue, thread wake-up, the loop's self-pipe), and the default profile ~50 ms.
INLINE_MAX_KIB_PASSES = 64


def argon2_parameters(profile: str, policy: Policy | None = None) -> dict[str, int]:
    """The effective {time_cost, memory_cost, parallelism}: the profile's, overridden by the policy."""
    if profile not in PROFILES:
        raise ValueError(f"unknown password profile {profile!r} (cheap or default)")
    params = {**PROFILES[profile], **(policy.password_overrides() if policy else {})}
    lanes, memory = params["parallelism"], params["memory_cost"]
    if memory < KIB_PER_LANE * lanes:
        given = "" if policy and policy.password_memory_cost is not None else f" (the {profile} profile's)"
        raise PolicyError(f"policy key 'password_memory_cost' must be >= {KIB_PER_LANE * lanes} with parallelism"
                          f" {lanes} (argon2 needs {KIB_PER_LANE} KiB per lane), not {memory}{given}")
    return params


def describe(profile: str, params: dict[str, int]) -> str:
    """For log and error lines, e.g. `cheap (argon2id t=1 m=8 KiB p=1)`."""
    return f"{profile} (argon2id t={params['time_cost']} m={params['memory_cost']} KiB p={params['parallelism']})"


class Passwords:
    """Hash and verify passwords; unknown users verify against a dummy hash (same timing)."""

    def __init__(self, profile: str = "default", workers: int = 4, policy: Policy | None = None) -> None:
        self.profile = profile
        self.params = argon2_parameters(profile, policy)
        self.hasher = PasswordHasher(**self.params)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self.inline = (self.params["parallelism"] == 1
                       and self.params["memory_cost"] * self.params["time_cost"] <= INLINE_MAX_KIB_PASSES)
        self._dummy = self.hasher.hash("dummy password for unknown users")

    def describe(self) -> str:
        return describe(self.profile, self.params)

    def hash_sync(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        if self.inline:
            return self.hash_sync(password)
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; with `stored=None` hashes a dummy and says False."""
        if self.inline:
            return self.verify_sync(stored, password)
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.verify_sync, stored, password)
