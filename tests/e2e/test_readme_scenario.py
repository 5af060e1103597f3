"""scenarios/README.md's example with every table runs as shown and passes (its thresholds use the
one metric names; every user it asks for gets an account)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "scenarios" / "README.md"


def test_the_readme_example_scenario_runs_and_passes(tmp_path: Path) -> None:
    block = next(b for b in re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
                 if 'name = "teams-under-delay"' in b)
    scenario = tmp_path / "teams-under-delay.toml"
    scenario.write_text(block, encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    assert proc.returncode == 0 and verdict["passed"], (proc.stderr[-2000:], verdict.get("problems"),
                                                        verdict.get("thresholds"))
