"""argon2id password hashing, run in a thread pool so it never blocks the event loop.

Profiles: `default` (argon2-cffi's recommended cost) and `cheap` (minimal cost, for load runs
where thousands of logins would otherwise measure the hash instead of the portal).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PROFILES = {
    "default": {},
    "cheap": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
}


class Passwords:
    """Hash and verify passwords; unknown users verify against a dummy hash (same timing)."""

    def __init__(self, profile: str = "default", workers: int = 4) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown password profile {profile!r} (cheap or default)")
        self.profile = profile
        self.hasher = PasswordHasher(**PROFILES[profile])
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy = self.hasher.hash("dummy password for unknown users")

    def hash_sync(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; with `stored=None` hashes a dummy and says False."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.verify_sync, stored, password)
