"""The READMEs' examples of Locust on its own, run as written (issue 12): the `up` time scale and
Locust's agree, the thresholds pass, and a mismatch is the one line the README shows."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mfa_harness.scenarios.stack import LocalStack, StackConfig

REPO = Path(__file__).resolve().parents[2]
RUN_WALL_S = "15s"      # the README says 1m; everything else is run as written


def readme_commands(readme: Path) -> tuple[list[str], list[str]]:
    """The `mfa-harness up` line and the `locust` command (continuation lines joined) of the block."""
    text = readme.read_text(encoding="utf-8")
    blocks = [b.replace("\\\n", " ") for b in re.findall(r"```\n(.*?)```", text, re.S)]
    lines = [line for b in blocks for line in b.splitlines()]
    # the `up` command may sit in the Locust block or in its own block just before it
    up = next(line for line in lines if line.startswith("mfa-harness up") and "--time-scale" in line)
    locust = next(line for line in lines if line.startswith("locust -f loadtests/locustfile.py"))
    return shlex.split(up, comments=True), shlex.split(locust)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("readme", ["README.md", "loadtests/README.md"])
def test_the_up_and_locust_time_scales_agree(readme: str) -> None:
    up, locust = readme_commands(REPO / readme)
    assert option(up, "--time-scale") == option(locust, "--time-scale")
    assert option(locust, "--host").endswith(":" + option(up, "--portal-port"))
    assert option(locust, "--inbox-url").endswith(":" + option(up, "--inbox-http-port"))


@pytest.mark.timeout(300)
def test_the_readme_locust_example_passes_its_thresholds(tmp_path: Path) -> None:
    up, argv = readme_commands(REPO / "README.md")
    stack = LocalStack(StackConfig(out=tmp_path, epoch=time.time(), time_scale=float(option(up, "--time-scale")),
                                   seed=1, partners=100))  # as `up` seeds: one account per user of `-u 50`
    try:
        stack.start()
        argv = [sys.executable, "-m", "locust", *argv[1:]]
        replace = {"--host": stack.portal_url, "--inbox-url": stack.inbox_url, "-t": RUN_WALL_S,
                   "--history-file": str(tmp_path / "history.jsonl"),
                   "--summary-file": str(tmp_path / "summary.json")}
        for name, value in replace.items():
            argv[argv.index(name) + 1] = value
        proc = subprocess.run(argv + ["--only-summary"], cwd=REPO, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
        assert summary["thresholds"] and summary["thresholds_passed"], summary["thresholds"]
        assert summary["time_scale"] == float(option(up, "--time-scale"))
    finally:
        stack.stop()


def test_the_readme_mismatch_line_is_what_locust_says(tmp_path: Path) -> None:
    """loadtests/README.md shows the refusal for a stack at x1 and Locust at x30."""
    text = (REPO / "loadtests/README.md").read_text(encoding="utf-8")
    shown = next(line.strip() for line in text.splitlines() if "runs at time scale" in line)
    stack = LocalStack(StackConfig(out=tmp_path, epoch=time.time(), time_scale=1.0, seed=1, partners=4))
    try:
        stack.start()
        _, argv = readme_commands(REPO / "loadtests/README.md")
        argv = [sys.executable, "-m", "locust", *argv[1:]]
        argv[argv.index("--host") + 1] = stack.portal_url
        argv[argv.index("--inbox-url") + 1] = stack.inbox_url
        argv[argv.index("--history-file") + 1] = str(tmp_path / "history.jsonl")
        argv[argv.index("--summary-file") + 1] = str(tmp_path / "summary.json")
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    finally:
        stack.stop()
    assert proc.returncode == 2
    said = [line for line in proc.stderr.splitlines() if line.startswith("mfa-harness: ")]
    assert said == [shown.replace("http://127.0.0.1:8080", stack.portal_url)], (said, shown)
