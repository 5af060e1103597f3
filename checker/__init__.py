"""The invariant checker: pure functions over the merged run history.

`check(lines, ctx)` files the history by key in one pass (`index.py`) and asks each invariant of
the registry (`registry.py`) for valid / invalid / "unknown", a violation count and at most five
small counter-examples. The package imports nothing else of the project: the Locust side and the
runner use it, never the other way round (README.md in this folder).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .context import CheckContext
from .index import HistoryError, build_index
from .jsonlines import gc_paused
from .policy import DEFAULT_POLICY
from .registry import INVARIANT_NAMES, INVARIANTS, PREFIX_SAFE, REGISTRY, Evidence, Invariant
from .result import valid_label


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
        for inv in REGISTRY:
            started = time.perf_counter()
            answers[inv.name] = inv.check(ix, ctx)
            if timings is not None:
                timings[inv.name] = time.perf_counter() - started
    return answers


__all__ = ["CheckContext", "DEFAULT_POLICY", "Evidence", "HistoryError", "INVARIANTS", "INVARIANT_NAMES", "Invariant",
           "PREFIX_SAFE", "REGISTRY", "check", "valid_label"]
