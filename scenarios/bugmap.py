"""The checker's side of the planted bugs: which invariant each must break, and what run shows it.

The registry lives with the portal (`server/bugs.py`), so that the portal's `--bug` list and these
expectations are one table; a validation run with `--bug NAME` passes only when the entry's
invariants come out invalid.
"""

from __future__ import annotations

from mfa_harness.server.bugs import PLANTED_BUGS, PlantedBug

__all__ = ["PLANTED_BUGS", "PlantedBug"]
