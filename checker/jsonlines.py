"""Reading history lines fast: msgspec per line, the stdlib for what msgspec refuses, GC paused.

A verdict starts by parsing the whole history (a million lines for an hour of a large run), and
the stdlib parser was more than half of `mfa-harness check`'s time (bench `checker_parse`).
msgspec's JSON decoder parses the same lines about 2x faster, and pausing the cyclic garbage collector while
millions of acyclic dicts are built (and indexed) saves as much again: CPython otherwise walks
every tracked object on each full collection triggered by the allocations.

Byte compatibility: history files are written by the stdlib (`json.dumps`) everywhere, and
they stay that way. msgspec reads strict RFC 8259 JSON, which is all of what the stdlib writes
except the `NaN`/`Infinity` literals, lone surrogate escapes and numbers out of a double's
range; msgspec refuses those, and such a line goes to `json.loads` instead, so every line gives
exactly the value the stdlib would have given (tests/scenarios/test_jsonlines.py reads old and
new side by side). orjson is as fast (bench `checker_parse`) but turns integers beyond 64 bits
into floats silently, so it could not be the reader.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode


def loads(line: bytes | str) -> Any:
    """One JSON value, as `json.loads` would give it (msgspec first, the stdlib for its extensions)."""
    try:
        return _decode(line)
    except msgspec.DecodeError:
        return json.loads(line)


def loads_lines(lines: list[bytes]) -> list[Any] | None:
    """Every line's value in one comprehension (the fast path), or None if any line needs a closer look
    (blank but for spaces, torn, NaN, not JSON): the caller then goes line by line with `loads`."""
    try:
        return [_decode(line) for line in lines if line]
    except msgspec.DecodeError:
        return None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (parsing and indexing build no cycles); restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
