"""Gather the histories of one run (portal events, inbox deliveries, client ops, nemesis) and merge them.

Portal and inbox keep their own logs and hand them out in pages (`after=N`); we read them to
the end and merge all sources by wall time into one JSON Lines file.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mfa_harness.checker.jsonlines import gc_paused, loads, loads_lines
from mfa_harness.errors import SetupError


class CollectError(SetupError):
    """A history source could not be read (exit 2): `url` or `path` says which."""


def _get(url: str, timeout: float = 30.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CollectError(f"GET {url}: {exc}", url=url) from None


def get_json(url: str, timeout: float = 30.0) -> Any:
    return json.loads(_get(url, timeout))


def parse_jsonl(data: bytes | str) -> list[dict[str, Any]]:
    """Every line of a JSON Lines body (split at \\n and \\r only, never at U+2028 inside a string)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with gc_paused():
        return [loads(line) for line in raw.splitlines() if line.strip()]


def _paged(url_for: Any, key: str, page: int = 5000, max_pages: int = 100_000) -> Iterator[dict[str, Any]]:
    """Follow `after=` pages until a short page; bounded by `max_pages`."""
    after = 0
    for _ in range(max_pages):
        lines = parse_jsonl(_get(url_for(after, page)))
        yield from lines
        if len(lines) < page:
            return
        after = int(lines[-1][key])
    raise CollectError(f"more than {max_pages} pages from {url_for(after, page)}", url=url_for(after, page))


def portal_events(portal_url: str, after: int = 0) -> list[dict[str, Any]]:
    """All portal audit events with id > after (white box; harness mode only)."""
    out = list(_paged(lambda a, n: f"{portal_url}/_harness/events?after={max(a, after)}&limit={n}", "id"))
    for ev in out:
        ev.setdefault("src", "portal")
    return out


def inbox_deliveries(inbox_url: str) -> list[dict[str, Any]]:
    """The inbox's own delivery history: received, delayed, delivered, dropped, refused…"""
    out = list(_paged(lambda a, n: f"{inbox_url}/api/v1/deliveries?after={a}&limit={n}", "seq_event"))
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
