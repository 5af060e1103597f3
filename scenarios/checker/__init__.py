"""The invariant checker: pure functions over the merged run history.

`check(lines, ctx)` files the history by key in one pass (`index.py`) and asks each invariant
for valid / invalid / "unknown", a violation count and at most five small counter-examples.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..jsonlines import gc_paused
from .access import check_affiliates, check_mfa_required
from .codes import check_binding, check_expiry, check_single_use
from .context import DEFAULT_POLICY, CheckContext
from .index import HistoryError, Index, build_index
from .limits import check_attempt_limits, check_resend_limits
from .loops import check_no_login_loops
from .mail import check_outbox, check_recipient
from .rejections import check_no_false_rejections

Invariant = Callable[[Index, CheckContext], dict[str, Any]]

INVARIANTS: dict[str, Invariant] = {
    "single_use": check_single_use,
    "expiry": check_expiry,
    "binding": check_binding,
    "mfa_required": check_mfa_required,
    "affiliates": check_affiliates,
    "recipient": check_recipient,
    "resend_limits": check_resend_limits,
    "attempt_limits": check_attempt_limits,
    "no_false_rejections": check_no_false_rejections,
    "no_login_loops": check_no_login_loops,
    "outbox": check_outbox,
}


def check(lines: Iterable[dict[str, Any]], ctx: CheckContext,
          timings: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Every invariant's answer, keyed by name in the canonical order; `timings`, when given, gets
    each invariant's checking time in wall seconds (JUnit reports real times).

    Raises HistoryError for a line that breaks the history contract (not a dict, unknown src).
    """
    if not isinstance(ctx, CheckContext):
        raise TypeError(f"ctx must be a CheckContext, got {type(ctx).__name__}")
    with gc_paused():                   # millions of acyclic lines and index entries: jsonlines.py
        ix = build_index(lines, ctx.accounts)
        answers = {}
        for name, fn in INVARIANTS.items():
            started = time.perf_counter()
            answers[name] = fn(ix, ctx)
            if timings is not None:
                timings[name] = time.perf_counter() - started
    return answers


__all__ = ["CheckContext", "DEFAULT_POLICY", "HistoryError", "INVARIANTS", "check"]
