"""History reading with orjson (checker/jsonlines.py): the same values the stdlib gives, line for line.

History files are written by the stdlib everywhere; these tests write them the old way and read
them with the old reader (stdlib `json.loads` per line) and the new one side by side.
"""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path

import pytest

from mfa_harness.checker import CheckContext, check
from mfa_harness.checker.jsonlines import gc_paused, loads
from mfa_harness.loadtests.history import FileSink, History
from mfa_harness.loadtests.timebase import Timebase
from mfa_harness.scenarios.collect import CollectError, parse_jsonl, read_jsonl

ODD_VALUES = [
    {"src": "client", "wall": 1790000000.123456, "st": 0.0, "value": {}},
    {"user": "zoë@exämple.test", "snippet": "Ihr Code: 123456 — gültig 5 Minuten", "emoji": "🔐"},
    {"quote": 'say "hi"\\ \t\n\r\b\f', "ctl": "\x00\x1f\x7f", "slash": "a/b"},
    {"nan": float("nan"), "inf": float("inf"), "minf": float("-inf")},       # stdlib extensions
    {"big": 2**70, "neg": -(2**63), "max64": 2**64 - 1, "float_exp": 1e16, "tiny": 5e-324},
    {"lone_surrogate": "\ud800x", "nested": [[1, [2, [3]]], {"a": None, "b": True, "c": False}]},
    {"dup": 1, "n": -0.0, "list": [], "e": 1.5e-7},
]


def _same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN and tells -0.0 from 0.0 (repr compares both)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_read_jsonl_gives_what_the_stdlib_gives(tmp_path: Path, ensure_ascii: bool) -> None:
    path = tmp_path / "h.jsonl"
    values = ODD_VALUES if ensure_ascii else [v for v in ODD_VALUES if "lone_surrogate" not in v]  # no UTF-8
    lines = [json.dumps(v, separators=(",", ":"), ensure_ascii=ensure_ascii) for v in values]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = [json.loads(line) for line in lines]
    new = read_jsonl(path)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert _same(a, b), (a, b)
    assert all(_same(loads(line), b) for line, b in zip(lines, old, strict=True))


def test_line_separator_inside_a_string_does_not_split_the_line(tmp_path: Path) -> None:
    """U+2028 / U+0085 in a string (ensure_ascii=False writers) are not line breaks in JSON Lines.

    The old reader split with str.splitlines(), which breaks on them: a valid history failed to load.
    """
    path = tmp_path / "h.jsonl"
    rows = [{"snippet": "line\u2028sep\u2029para\x85nel\x1cfs"}, {"src": "client"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert read_jsonl(path) == rows
    assert parse_jsonl(path.read_bytes()) == rows


def test_history_writer_lines_read_back_identically(tmp_path: Path) -> None:
    """A client history written by loadtests' own writer reads the same with the old and new reader."""
    path = tmp_path / "client-history.jsonl"
    sink = FileSink(path)
    hist = History(Timebase(epoch=1790000000.0, scale=100.0), sink)
    for i in range(50):
        hist.emit("invoke" if i % 2 else "ok", "verify", {"code": f"{i:06d}", "ref": "R\u00e9f", "n": i / 3},
                  proc=f"w1-{i}", flow=f"f{i}", persona="careful", user=f"u{i}@ex.test", wall=1790000000.5 + i)
    sink.close()
    old = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert read_jsonl(path) == old


def test_torn_last_line_skipped_and_bad_middle_line_named(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":2}\n{"c":\xc3')         # killed writer: torn, even mid-UTF-8
    assert read_jsonl(path) == [{"a": 1}, {"b": 2}]
    path.write_bytes(b'{"a":1}\n{"b":\n{"c":3}\n')
    with pytest.raises(CollectError, match=r"h\.jsonl:2: not a JSON line"):
        read_jsonl(path)


def test_gc_paused_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()                       # it was off before: stays off
    finally:
        gc.enable()
    check([], CheckContext())
    assert gc.isenabled()
