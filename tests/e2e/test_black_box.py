"""The reference portal as a foreign target: `mfa-harness up` in one process, `run --target` in another.

Black box, as a user runs their own portal: no event log (no `/_harness/events`), the reference
profile, the accounts (from `/_harness/accounts`, or a file of some of them), evidence from the
clients and the inbox only. Each planted bug that black box can decide (`PLANTED_BUGS[...].black_box`,
`server/bugs.py`; a bug whose entry becomes decidable joins by itself) must be caught by its
black-box invariants, and at least 90 % of all planted bugs must be; the correct portal must pass
every catalogue scenario that can run against a target, and the others must be refused up front.
`pytest -rP tests/e2e/test_black_box.py` prints the table bug, invariants, caught.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_catalogue import explain, run_harness

from mfa_harness.harness_http import PortalHarness
from mfa_harness.scenarios import bugmap
from mfa_harness.scenarios.runner import write_toml
from mfa_harness.scenarios.spec import catalog, load

REFERENCE_PROFILE = Path(__file__).resolve().parents[2] / "loadtests" / "profiles" / "reference.toml"
READY_LINE = "Ctrl-C stops both"         # `up`'s last line once portal and inbox are ready
URL_LINE = re.compile(r"^(portal|inbox)\s+(http://\S+?)/?$")
UP_START_S = 120.0

# Black-box bug runs: (scenario seconds, time scale) per scenario; the time scale is `up`'s too. 600 s
# lets the slow typers' late flows (typed 320-390 s after the code) finish; smtp-outage runs past the
# retry window `outbox` judges a refused mail by (the file's own 1500 s). Each bug was caught in 3 of 3.
BUG_RUNS = {"validation": (600, 60), "probes": (600, 60), "smtp-outage": (1500, 60)}
# False-positive runs: all at one time scale (their portals' too), scenario seconds per scenario.
FP_SCALE = 60
FP_DURATION = {"partners-login": 600, "expiry": 900, "smtp-outage": 1500, "clock-jump": 600}
FP_DEFAULT_DURATION = 450
FP_ACCOUNTS = 600                  # a disjoint share for each scenario (Up.accounts_share)


@dataclass
class Up:
    """A running `mfa-harness up`: the URLs it printed and its time scale."""

    portal_url: str
    inbox_url: str
    time_scale: float

    def target_args(self, accounts_file: Path | None = None) -> list[str]:
        """`run`'s options for this stack as a foreign target: black box, its own profile, and its
        accounts (all, from `/_harness/accounts`, or a file of some of them)."""
        accounts = (["--accounts-file", str(accounts_file)] if accounts_file
                    else ["--accounts-url", self.portal_url + "/_harness/accounts"])
        return ["--target", self.portal_url, "--inbox-url", self.inbox_url, "--target-profile", str(REFERENCE_PROFILE),
                *accounts, "--time-scale", f"{self.time_scale:g}"]

    def accounts_share(self, path: Path, index: int, shares: int) -> Path:
        """The `index`-th of `shares` disjoint shares of the accounts, each program split alike, as a JSON
        accounts file: runs one after the other on one portal do not inherit each other's per-account
        hourly limits (at x60 a portal hour is a wall minute), as testers sharing a staging portal
        each use their own accounts."""
        accounts = PortalHarness(self.portal_url).accounts()
        share = []
        for program in sorted({a["program"] for a in accounts}):
            of = [a for a in accounts if a["program"] == program]
            share += of[index * len(of) // shares:(index + 1) * len(of) // shares]
        path.write_text(json.dumps(share), encoding="utf-8")
        return path


@contextlib.contextmanager
def mfa_up(out: Path, time_scale: float, *args: str) -> Iterator[Up]:
    """`mfa-harness up` as a real process on free ports until its ready line; Ctrl-C (SIGINT) stops it."""
    proc = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "up", "--out", str(out),
                             "--time-scale", f"{time_scale:g}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:           # keeps reading after the ready line, so `up` never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        urls: dict[str, str] = {}
        seen: list[str] = []
        while READY_LINE not in (seen[-1] if seen else ""):
            try:
                line = lines.get(timeout=UP_START_S)
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail(f"`up {' '.join(args)}` did not become ready (exit {proc.poll()}): {seen}")
            seen.append(line)
            if match := URL_LINE.match(line):
                urls[match[1]] = match[2]
        yield Up(urls["portal"], urls["inbox"], time_scale)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)        # `up` stops portal and inbox itself
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def black_box_run(out: Path, scenario: str, up: Up, duration: float,
                  accounts_file: Path | None = None) -> tuple[int, dict]:
    """`mfa-harness run SCENARIO --target ...` against `up`; its verdict, checked to be a black-box one."""
    code, verdict = run_harness(out, scenario, *up.target_args(accounts_file), "--duration", f"{duration:g}")
    assert json.loads((out / "run.json").read_text())["white_box"] is False
    srcs = {json.loads(line).get("src") for line in (out / "history.jsonl").open()}
    assert "portal" not in srcs and "client" in srcs, srcs     # no portal event was read
    return code, verdict


def expected_black_box(bug: bugmap.PlantedBug) -> tuple[str, ...]:
    """The invariants a black-box run against the bug must find invalid; () when it cannot decide."""
    return bug.invariants if bug.black_box is None else bug.black_box


DECIDABLE = sorted(name for name, bug in bugmap.PLANTED_BUGS.items() if expected_black_box(bug))
CAUGHT: dict[str, bool] = {}               # this session's per-bug results, for the catch-rate table


@pytest.mark.parametrize("bug", DECIDABLE)
def test_planted_bug_caught_black_box(bug: str, tmp_path: Path) -> None:
    planted = bugmap.PLANTED_BUGS[bug]
    duration, scale = BUG_RUNS[planted.scenario]
    CAUGHT[bug] = False
    with mfa_up(tmp_path / "up", scale, "--bug", bug, "--processes", str(planted.processes)) as up:
        code, verdict = black_box_run(tmp_path / "run", planted.scenario, up, duration)
    missed = [inv for inv in expected_black_box(planted) if verdict["invariants"][inv]["valid"] is not False]
    assert not missed, f"{bug}: {missed} not invalid black box\n{explain(verdict)}"
    for inv in expected_black_box(planted):
        assert verdict["invariants"][inv]["examples"], inv
    assert code == 1, f"a violation the run did not expect exits 1, got {code}"
    CAUGHT[bug] = True


def catch_table() -> str:
    """bug, the invariants black box must find invalid, and whether this session caught it."""
    rows = []
    for name, bug in bugmap.PLANTED_BUGS.items():
        expected = expected_black_box(bug)
        caught = "undecidable" if not expected else {True: "yes", False: "NO"}.get(CAUGHT.get(name), "not run")
        rows.append(f"  {name:24s} {', '.join(expected) or '-':28s} {caught}")
    return "\n".join(rows)


def test_black_box_catch_rate_is_at_least_90_percent() -> None:
    """Decidable and not missed in this session, over all planted bugs (each one's own test above proves it)."""
    missed = {name for name, caught in CAUGHT.items() if not caught}
    caught = [name for name in DECIDABLE if name not in missed]
    rate = len(caught) / len(bugmap.PLANTED_BUGS)
    print(f"\nblack-box catch rate {len(caught)}/{len(bugmap.PLANTED_BUGS)} = {rate:.0%}\n{catch_table()}")
    assert rate >= 0.9, f"black-box catch rate {len(caught)}/{len(bugmap.PLANTED_BUGS)} = {rate:.0%}\n{catch_table()}"


@pytest.fixture(scope="module")
def correct_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[dict], Up]]:
    """Correct portals (no bug), one per scenario policy, that the false-positive runs below share, as
    runs share a user's staging portal; a scenario's `[policy]` is the portal's configuration."""
    stacks: dict[str, Up] = {}
    with contextlib.ExitStack() as running:
        def portal_for(policy: dict) -> Up:
            key = json.dumps(policy, sort_keys=True)
            if key not in stacks:
                out = tmp_path_factory.mktemp("correct-up")
                args = ["--policy", str(write_toml(out / "policy.toml", policy))] if policy else []
                stacks[key] = running.enter_context(mfa_up(out / "up", FP_SCALE, "--partners", str(FP_ACCOUNTS),
                                                           *args))
            return stacks[key]
        yield portal_for


CATALOGUE = [s.name for s in catalog()]


@pytest.mark.parametrize("name", CATALOGUE)
def test_catalogue_scenario_black_box_no_false_positive(name: str, correct_up: Callable[[dict], Up],
                                                         tmp_path: Path) -> None:
    sc = load(name)
    up = correct_up(sc.policy)
    accounts = up.accounts_share(tmp_path / "accounts.json", CATALOGUE.index(name), len(CATALOGUE))
    if any(step.action == "kill-portal" for step in sc.nemesis):    # refused before anything starts
        res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", name, *up.target_args(accounts),
                              "--out", str(tmp_path / name)], capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, res
        assert "kill-portal step needs the portal the run starts itself" in res.stderr, res.stderr
        return
    code, verdict = black_box_run(tmp_path / name, name, up, FP_DURATION.get(name, FP_DEFAULT_DURATION),
                                  accounts)
    bad = {k: v for k, v in verdict["invariants"].items() if v["valid"] is False}
    assert not bad, f"false positive black box: {sorted(bad)}\n{explain(verdict)}"
    assert code == 0 and verdict["passed"], explain(verdict)
