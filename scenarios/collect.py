"""Gather the histories of one run (portal events, inbox deliveries, client ops, nemesis) and merge them.

Portal and inbox keep their own logs and hand them out in pages (`after=N`); we read them to
the end and merge all sources by wall time into one JSON Lines file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mfa_harness.checker.jsonlines import gc_paused, loads, loads_lines
from mfa_harness.errors import SetupError
from mfa_harness.harness_http import HttpError, InboxApi, PortalHarness, call_json


class CollectError(SetupError):
    """A history source could not be read (exit 2): `url` or `path` says which."""


def _reading(what: Callable[[], Any]) -> Any:
    """`what()`, with the shared client's HttpError (no answer, a bad status, a body that is not
    JSON, a log that never ends) as a CollectError naming the URL."""
    try:
        return what()
    except HttpError as exc:
        raise CollectError(str(exc), url=exc.url, status=exc.status) from None


def get_json(url: str, timeout: float = 30.0) -> Any:
    """The JSON answer (status 200) of a GET; CollectError otherwise."""
    return _reading(lambda: call_json("GET", url, timeout=timeout))


def parse_jsonl(data: bytes | str) -> list[dict[str, Any]]:
    """Every line of a JSON Lines body (split at \\n and \\r only, never at U+2028 inside a string)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with gc_paused():
        return [loads(line) for line in raw.splitlines() if line.strip()]


def portal_events(portal_url: str, after: int = 0) -> list[dict[str, Any]]:
    """All portal audit events with id > after (white box; harness mode only)."""
    with gc_paused():
        out = _reading(lambda: PortalHarness(portal_url).all_events(after, loads=loads))
    for ev in out:
        ev.setdefault("src", "portal")
    return out


def inbox_deliveries(inbox_url: str) -> list[dict[str, Any]]:
    """The inbox's own delivery history: received, delayed, delivered, dropped, refused…"""
    with gc_paused():
        out = _reading(lambda: InboxApi(inbox_url).all_deliveries(loads=loads))
    for ev in out:
        ev.setdefault("src", "inbox")
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSON Lines file; a torn last line (a killed writer) is skipped, others must parse.

    Parsed with msgspec (stdlib fallback) and the GC paused: `checker/jsonlines.py` says why.
    """
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    lines = path.read_bytes().splitlines()
    with gc_paused():
        fast = loads_lines(lines)
        if fast is not None:
            return fast
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rows.append(loads(line))
            except ValueError:
                if i == len(lines) - 1:
                    continue
                raise CollectError(f"{path}:{i + 1}: not a JSON line", path=str(path), line=i + 1) from None
    return rows


def merge(*sources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """All lines sorted by wall time; stable, so each source keeps its own order on ties."""
    merged = [row for src in sources for row in src]
    merged.sort(key=lambda r: r.get("wall", 0.0))
    return merged


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), sort_keys=False))
            fh.write("\n")
            n += 1
    return n
