"""Keeps the benchmarks working: each runs at the tiny size and writes a well-formed result.

Benchmarks are not tests: nothing here looks at speed or at whether a goal was met, only
that both sides of every ratio were measured and the JSON has the documented shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import EXTRA, SUITE
from bench.measure import Goal, alternate, percentile

ROOT = Path(__file__).resolve().parents[2]


def _run_bench(args: list[str], timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _check_side(side: dict) -> None:
    assert side["label"] and side["unit"] is not None
    assert side["rounds"], "a side with no rounds was not measured"
    assert all(isinstance(v, int | float) and v > 0 for v in side["rounds"]), side
    assert side["median"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SUITE + EXTRA)
def test_benchmark_runs_at_tiny_size(name: str, tmp_path: Path) -> None:
    proc = _run_bench([name, "--size", "tiny", "--out", str(tmp_path)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    doc = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["benchmark"] == name and doc["size"] == "tiny"
    assert doc["date"] and {"nproc", "cpu", "python"} <= set(doc["machine"])
    assert isinstance(doc["met"], bool)
    assert doc["figures"]
    for fig in doc["figures"]:
        assert isinstance(fig["met"], bool)
        if fig["goal"] is not None:                           # None: a context figure without a goal
            assert fig["goal"]["op"] in ("<=", ">=") and isinstance(fig["goal"]["value"], int | float)
        else:
            assert fig["met"] is True
        if fig["kind"] == "ratio":
            _check_side(fig["a"])
            _check_side(fig["b"])
            assert len(fig["a"]["rounds"]) == len(fig["b"]["rounds"])
            assert fig["ratio"] > 0
        else:
            assert fig["kind"] == "absolute" and fig["value"] is not None and fig["value"] >= 0
    assert name in proc.stdout  # the table was printed
    names = {fig["name"] for fig in doc["figures"]}
    required = {"end_to_end": {"harness client vs bare FastHttpUser, same request mix", "end to end", "inbox cost"},
                "checker_parse": {"check vs parse", "parse: stdlib json vs read_jsonl"},
                "distributed": {"MFA logins/s per worker", "merged history complete"}}.get(name, set())
    assert required <= names, f"{name}: missing figures {required - names}"


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run_bench(["no_such_bench", "--out", str(tmp_path)], timeout=60)
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_rounds_alternate_abba() -> None:
    order: list[str] = []
    a, b = alternate(4, lambda i: order.append(f"A{i}") or 1.0, lambda i: order.append(f"B{i}") or 2.0)
    assert order == ["A0", "B0", "B1", "A1", "A2", "B2", "B3", "A3"]
    assert a == [1.0] * 4 and b == [2.0] * 4


def test_goal_and_percentile() -> None:
    assert Goal("<=", 3, "").met(3.0) and not Goal("<=", 3, "").met(3.01)
    assert Goal(">=", 0.8, "").met(0.8) and not Goal(">=", 0.8, "").met(None)
    values = list(range(1, 101))
    assert percentile(values, 99) == 99 and percentile(values, 50) == 50 and percentile([7.0], 99) == 7.0
