"""Scenario time 0 is when the load begins, whatever Locust's start-up costs (issue 12).

Locust's start is delayed on purpose: a `sitecustomize` on PYTHONPATH sleeps in every process
started as `-m locust` (the runner's children inherit the environment). The first client
operation must still sit at scenario time ~0, and the inbox's fault window must open at the
scenario time the file says, on the run's axis.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mfa_harness.scenarios.cli import main

SCALE = 30.0
LOCUST_DELAY_S = 3.0          # wall seconds added to Locust's start-up
TOLERANCE_WALL_S = 1.0        # the first operation within this much wall time of the epoch

SCENARIO = """\
name = "time-axis"
description = "load and a delay window on one axis"
seed = 3
duration = 180

[population]
partners = 12

[load]
users = 4

[personas]
careful = 1

[[faults]]
kind = "delay"
seconds = 5
start = 60
end = 120
"""


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.timeout(300)
def test_load_begins_at_scenario_time_zero_when_locust_starts_late(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys, time\n"
        "if 'locust' in sys.orig_argv[:3]:\n"
        f"    time.sleep({LOCUST_DELAY_S})\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(hook))
    scenario = tmp_path / "time-axis.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "run"

    code = main(["run", str(scenario), "--time-scale", f"{SCALE:g}", "--out", str(out), "--quiet"])

    assert code == 0, (out / "verdict.json").read_text(encoding="utf-8")
    client = _lines(out / "client-history.jsonl")
    first = min(line["st"] for line in client)
    assert 0 <= first <= TOLERANCE_WALL_S * SCALE, f"first client operation at scenario time {first:.1f} s"
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["phases"]["locust_start_s"] >= LOCUST_DELAY_S          # the hook did delay Locust
    history = _lines(out / "history.jsonl")
    delayed = [line["st"] for line in history if line.get("src") == "inbox" and line.get("event") == "delayed"]
    assert delayed, "no mail was delayed inside the fault window"
    assert 60 - 1 <= min(delayed) and max(delayed) <= 120 + 1, (min(delayed), max(delayed))
    portal = [line["st"] for line in history if line.get("src") == "portal" and line.get("event") == "challenge_created"]
    assert portal and min(portal) >= first - 1, "the portal's clock is on another axis than the clients'"
