"""The harness's Locust options come from where Locust users put options: env vars and locust.conf.

Each run is the real `locust` stopping at the harness's own start-up checks (no load, no
stack): which error it stops with shows which values it read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from loadtests_stack import LOCUSTFILE

from mfa_harness.loadtests.options import env_var_of


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _locust(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    return subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "1", "-t", "2s",
                           "--host", f"http://127.0.0.1:{_closed_port()}", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd, env={**base, **env})


def test_env_var_names_follow_locusts() -> None:
    assert env_var_of("--inbox-url") == "LOCUST_INBOX_URL"
    assert env_var_of("--abort-on-fail") == "LOCUST_ABORT_ON_FAIL"


def test_inbox_url_from_the_environment(tmp_path: Path) -> None:
    missing = _locust(tmp_path, {})
    assert missing.returncode == 2 and "--inbox-url is required" in missing.stderr
    res = _locust(tmp_path, {"LOCUST_INBOX_URL": "http://127.0.0.1:9"})
    # past the inbox check: it now stops at the accounts of the (closed) host
    assert res.returncode == 2, res.stderr
    assert "--inbox-url is required" not in res.stderr and "cannot load accounts" in res.stderr
    bad = _locust(tmp_path, {"LOCUST_INBOX_URL": "http://127.0.0.1:9", "LOCUST_PERSONAS": "careful=1,nobody=1"})
    assert bad.returncode == 2 and "unknown persona 'nobody'" in bad.stderr


def test_options_from_locust_conf(tmp_path: Path) -> None:
    (tmp_path / "locust.conf").write_text("inbox-url = http://127.0.0.1:9\npersonas = careful=1,nobody=1\n")
    res = _locust(tmp_path, {})
    assert res.returncode == 2 and "unknown persona 'nobody'" in res.stderr, res.stderr
    (tmp_path / "locust.conf").write_text("inbox-url = http://127.0.0.1:9\n")
    res = _locust(tmp_path, {})
    assert res.returncode == 2 and "cannot load accounts" in res.stderr, res.stderr
