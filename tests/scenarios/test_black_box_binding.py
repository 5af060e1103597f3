"""`code-not-bound` decided black box, as a user would run it: `mfa-harness up --bug code-not-bound`
(real portal and inbox processes), then `mfa-harness run --target URL --inbox-url URL --accounts-url
URL` with `two-browsers` users: no portal event log, only the client history, the inbox's deliveries
and the accounts. The bug makes `binding` invalid; the correct portal keeps it valid with cases. With
the portal's per-login references and, described by a profile without them, from mail order alone."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mfa_harness.loadtests.profile import PROFILE_DIR

SCENARIO = """name = "two-browsers-black-box"
description = "one account in two browsers: the second types the first one's live code"
seed = 11
time_scale = 60
duration = 240

[population]
partners = 8

[load]
users = 2

[personas]
two-browsers = 2
"""


def _urls(proc: subprocess.Popen[str], timeout: float = 120.0) -> dict[str, str]:
    """The portal and inbox URLs from `up`'s table, read on a thread so the wait is bounded."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    urls: dict[str, str] = {}
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"up ended before it was ready (exit {proc.poll()}), saw {urls}")
        if line.startswith(("portal ", "inbox ")):
            urls[line.split()[0]] = line.split()[1].rstrip("/")
        if "Ctrl-C stops both" in line:
            return urls


def profile_without_references(tmp_path: Path) -> Path:
    """The reference profile minus its per-login reference (page attribute and mail regex), as a
    portal without one would be described: the client then knows browser 1's code is not browser
    2's only because its mail came before browser 2's login began (per-login codes)."""
    lines = (PROFILE_DIR / "reference.toml").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "no-references.toml"
    path.write_text("\n".join(x for x in lines if not x.startswith(("ref_regex", "ref_attr"))), encoding="utf-8")
    return path


@pytest.mark.parametrize("bug", ["code-not-bound", None], ids=["code-not-bound", "correct"])
@pytest.mark.parametrize("references", [True, False], ids=["references", "no-references"])
def test_two_browsers_decide_binding_black_box(tmp_path: Path, bug: str | None, references: bool) -> None:
    scenario = tmp_path / "two-browsers.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    profile = [] if references else ["--target-profile", str(profile_without_references(tmp_path))]
    up = subprocess.Popen([sys.executable, "-m", "mfa_harness.scenarios.cli", "up", "--out", str(tmp_path / "up"),
                           "--partners", "8", "--time-scale", "60", *(["--bug", bug] if bug else [])],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        urls = _urls(up)
        out = tmp_path / "run"
        done = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario),
                               "--target", urls["portal"], "--inbox-url", urls["inbox"],
                               "--accounts-url", urls["portal"] + "/_harness/accounts", *profile, "--out", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=240)
    finally:
        up.send_signal(signal.SIGINT)                # Ctrl-C: `up` stops its portal and inbox
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(timeout=30)
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    binding = verdict["invariants"]["binding"]
    if bug:
        assert done.returncode == 1 and binding["valid"] is False, (done.stderr[-2000:], binding)
        assert binding["other_login_codes"]["accepted"] >= 1, binding
        assert binding["other_login_codes"]["known_by"] == ["ref" if references else "predates"], binding
    else:
        assert done.returncode == 0, (done.stderr[-2000:], verdict["invariants"])
        assert binding["valid"] is True and binding["checked"] > 0, binding
        assert binding["other_login_codes"]["tries"] >= 1 and binding["other_login_codes"]["accepted"] == 0
