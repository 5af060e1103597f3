"""Checker: seconds to check a 1,000,000-line history against seconds to merely parse it.

The history comes from ``history_gen`` (realistic flows, all sources, valid). "Parse" is what
``mfa-harness check DIR`` does before checking: ``mfa_harness.scenarios.collect.read_jsonl``. "Check" is
that plus ``mfa_harness.checker.check`` (index in one pass, then the eleven invariants), so the
ratio is the whole cost of a verdict's invariants relative to reading the file at all.

Each round parses the file (B, timed) and then checks what it parsed (timed); A of that
round is the sum, exactly what parsing and checking cost in that round. One parse per round
instead of two keeps the full size (1,000,000 lines, ~10 s a parse here) inside the suite's
time budget; A and B come from the same round, so drift cannot favour either.

Context (issue 15): in the same rounds, the same file parsed line by line with the stdlib
``json.loads`` (what ``read_jsonl`` used before msgspec) and, when it is installed, with
orjson, the other fast parser considered; each against ``read_jsonl``. The GC is paused for
them as it is in ``read_jsonl``, so the figure compares parsers, not collectors.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.history_gen import POLICY, write_history
from bench.measure import Goal, Side, ratio_figure, result
from mfa_harness.checker import CheckContext, check
from mfa_harness.checker.jsonlines import gc_paused
from mfa_harness.scenarios.collect import read_jsonl

NAME = "checker_parse"
TITLE = "checker: parse + check a history vs parse it only (seconds)"
GOAL = Goal("<=", 3.0, "check <= 3 x parse")


@dataclass(frozen=True)
class Params:
    lines: int
    rounds: int = 5


SIZES = {"tiny": Params(lines=20_000), "full": Params(lines=1_000_000)}


def _parsers() -> dict[str, Callable[[bytes], Any]]:
    """Alternative line parsers measured beside read_jsonl (orjson only when installed)."""
    out: dict[str, Callable[[bytes], Any]] = {"stdlib json": json.loads}
    try:
        import orjson
    except ImportError:
        return out
    out["orjson"] = orjson.loads
    return out


def _parse_with(path: Path, loads: Callable[[bytes], Any]) -> float:
    """Seconds to parse `path` line by line with `loads` (read and split as read_jsonl does)."""
    gc.collect()
    t = time.perf_counter()
    with gc_paused():
        rows = [loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    elapsed = time.perf_counter() - t
    del rows
    return elapsed


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    path = work / "history.jsonl"
    t0 = time.perf_counter()
    count, accounts = write_history(path, p.lines)
    gen_seconds = time.perf_counter() - t0
    check_only: list[float] = []
    a: list[float] = []
    b: list[float] = []
    verdicts: dict[str, Any] = {}
    others: dict[str, list[float]] = {name: [] for name in _parsers()}
    for i in range(p.rounds):
        if i % 2:                       # the other parsers before and after read_jsonl, alternately
            for name, loads in _parsers().items():
                others[name].append(_parse_with(path, loads))
        gc.collect()
        t = time.perf_counter()
        lines = read_jsonl(path)
        t_parsed = time.perf_counter()
        answers = check(lines, CheckContext(policy=POLICY, accounts=accounts))
        t_done = time.perf_counter()
        b.append(t_parsed - t)
        check_only.append(t_done - t_parsed)
        a.append(t_done - t)
        verdicts.update({k: v["valid"] for k, v in answers.items()})
        del lines, answers
        if not i % 2:
            for name, loads in _parsers().items():
                others[name].append(_parse_with(path, loads))
    figs = [ratio_figure("check vs parse", Side("parse + check", "s", a), Side("parse only", "s", b), GOAL)]
    figs += [ratio_figure(f"parse: {name} vs read_jsonl", Side(f"{name} parse", "s", v),
                          Side("read_jsonl parse (msgspec)", "s", b), None) for name, v in others.items()]
    return result(NAME, TITLE, size, figs, started,
                  params={"lines": count, "rounds": p.rounds, "file_mb": round(path.stat().st_size / 2**20, 1)},
                  extra={"check_only_s": [round(x, 3) for x in check_only], "generate_s": round(gen_seconds, 1),
                         "verdicts": verdicts})
