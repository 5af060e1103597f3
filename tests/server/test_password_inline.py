"""The cheap argon2 cost is verified on the loop thread (a thread hand-off costs more than it);
anything dearer still goes to the pool, so the event loop is never held for a real hash."""

from __future__ import annotations

import asyncio
import threading

from mfa_harness.server.passwords import Passwords
from mfa_harness.server.policy import Policy


def _verify_thread(passwords: Passwords, stored: str, password: str) -> tuple[bool, str]:
    seen: list[str] = []
    real = passwords.verify_sync

    def spy(*args):  # records where the real verify ran; the hash itself is real
        seen.append(threading.current_thread().name)
        return real(*args)

    passwords.verify_sync = spy  # type: ignore[method-assign]
    ok = asyncio.run(passwords.verify(stored, password))
    return ok, seen[0]


def test_cheap_verifies_inline_and_dearer_costs_in_the_pool():
    cheap = Passwords("cheap", workers=1)
    dearer = Passwords("cheap", workers=1, policy=Policy(password_memory_cost=1024))
    try:
        assert cheap.inline and not dearer.inline
        stored = cheap.hash_sync("right password")
        assert _verify_thread(cheap, stored, "right password") == (True, "MainThread")
        assert _verify_thread(cheap, stored, "wrong password") == (False, "MainThread")
        assert _verify_thread(cheap, None, "anything") == (False, "MainThread")  # dummy hash, same work
        ok, thread = _verify_thread(dearer, dearer.hash_sync("right password"), "right password")
        assert ok and thread.startswith("argon2")
    finally:
        cheap.pool.shutdown()
        dearer.pool.shutdown()
