"""`mfa-harness run --target`: accounts from a file or URL, passed to Locust; usage errors before any load.

The "foreign" portal is the reference one started here on its own (the runner only gets its URL),
so the run is black box: client and inbox histories only, logins counted from the clients.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mfa_harness.harness_http import InboxApi, PortalHarness
from mfa_harness.loadtests.profile import PROFILE_DIR
from mfa_harness.scenarios.cli import main
from mfa_harness.scenarios.runner import RunOptions, target_accounts
from mfa_harness.scenarios.stack import LocalStack, StackConfig

SCALE = 60.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    out = tmp_path_factory.mktemp("target-stack")
    s = LocalStack(StackConfig(out=out, epoch=time.time(), time_scale=SCALE, seed=1, partners=24))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def no_accounts_portal() -> Iterator[str]:
    """A portal that serves no `/_harness/accounts` (404 for everything)."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _accounts_file(stack: LocalStack, path: Path) -> Path:
    accounts = PortalHarness(stack.portal_url).accounts()
    assert accounts
    path.write_text(json.dumps(accounts), encoding="utf-8")
    return path


def test_run_against_target_with_accounts_file(stack: LocalStack, tmp_path: Path) -> None:
    accounts = _accounts_file(stack, tmp_path / "accounts.json")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "smoke", "--target", stack.portal_url,
                           "--inbox-url", stack.inbox_url, "--accounts-file", str(accounts),
                           "--duration", "300", "--time-scale", str(SCALE), "--out", str(out)],
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["metrics"]["logins_ok"] > 0
    # judged against the reference profile's [policy]: it sets one rule, the others are assumed
    policy = verdict["policy"]
    assert policy["source"].startswith("profile ") and policy["source"].endswith("reference.toml [policy]")
    rules = policy["rules"]
    assert rules.pop("mail_retry_within") == {"value": 30, "from": policy["source"] + ": mail_retry_within_s = 30"}
    assert {rule["from"] for rule in rules.values()} == {"reference defaults (assumed)"}
    assert policy["not_judged"] == {"clock_scale": "harness"} and policy["white_box"] is False
    assert f'name="policy.source" value="{policy["source"]}"' in (out / "junit.xml").read_text()
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["white_box"] is False
    assert len(run_info["accounts"]) == 24                     # the checker knows the accounts the clients used
    command = (out / "command.txt").read_text()
    assert f"--accounts-file {accounts}" in command and "--accounts-url" not in command
    # the live view counted logins from the client history (the portal log is not read in target mode)
    counts = [line for line in proc.stderr.splitlines() if "logins ok" in line]
    assert counts and "sign-ins ok" not in proc.stderr


def test_target_accounts_probe_uses_the_target_when_it_serves_accounts(stack: LocalStack) -> None:
    accounts, args = target_accounts(RunOptions(target=stack.portal_url + "/", inbox_url=stack.inbox_url))
    assert args == ["--accounts-url", stack.portal_url + "/_harness/accounts"]
    assert len(accounts) == 24 and {"username", "password", "notification_email"} <= set(accounts[0])


def _run(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> str:
    code = main(["run", "smoke", "--inbox-url", "http://127.0.0.1:9", "--out", str(out), "--quiet", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists()                                    # refused before anything started
    return err


def test_target_without_accounts_source_is_a_usage_error(no_accounts_portal: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(capsys, tmp_path / "run", "--target", no_accounts_portal)
    assert err.startswith("mfa-harness: --target needs --accounts-file FILE or --accounts-url URL:"), err
    assert f"{no_accounts_portal}/_harness/accounts" in err and "404" in err


def test_accounts_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", "http://127.0.0.1:9"]               # never contacted: the file is checked first
    missing = tmp_path / "nope.json"
    assert "No such file or directory" in _run(capsys, tmp_path / "r1", *target, "--accounts-file", str(missing))
    bad_json = tmp_path / "accounts.json"
    bad_json.write_text("[{", encoding="utf-8")
    assert "not valid JSON" in _run(capsys, tmp_path / "r2", *target, "--accounts-file", str(bad_json))
    bad_csv = tmp_path / "accounts.csv"
    bad_csv.write_text("username,password\nann,pw\n", encoding="utf-8")
    assert "CSV header must name" in _run(capsys, tmp_path / "r3", *target, "--accounts-file", str(bad_csv))
    no_program = tmp_path / "few.json"
    no_program.write_text(json.dumps([{"partner_id": 1, "username": "a", "password": "p",
                                       "notification_email": "a@x"}]), encoding="utf-8")
    assert "account 1: missing program" in _run(capsys, tmp_path / "r4", *target, "--accounts-file", str(no_program))


def test_accounts_url_that_does_not_answer(no_accounts_portal: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(capsys, tmp_path / "run", "--target", no_accounts_portal,
               "--accounts-url", no_accounts_portal + "/accounts.json")
    assert err.startswith("mfa-harness: --accounts-url: cannot load accounts from"), err


def test_accounts_options_need_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text("[]", encoding="utf-8")
    err = _run(capsys, tmp_path / "run", "--accounts-file", str(accounts))
    assert "needs --target" in err                      # --inbox-url, then the accounts options
    assert main(["run", "smoke", "--accounts-file", str(accounts), "--out", str(tmp_path / "r2"), "--quiet"]) == 2
    assert "need --target" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["run", "smoke", "--accounts-file", str(accounts), "--accounts-url", "http://127.0.0.1:9/a"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_fault_windows_are_on_the_runs_time_axis(tmp_path: Path) -> None:
    """An inbox started long before the run (its clock already at 3,600 scenario s): the run's
    spam window [60, 150) must still fall inside the run, and its history is on the run's axis."""
    out = tmp_path / "stack"
    s = LocalStack(StackConfig(out=out, epoch=time.time() - 3600 / SCALE, time_scale=SCALE, seed=1, partners=12))
    try:
        s.start()
        accounts = _accounts_file(s, tmp_path / "accounts.json")
        scenario = tmp_path / "windowed.toml"
        scenario.write_text('name = "windowed"\ndescription = "spam window"\nduration = 240\ntime_scale = 60\n'
                            '[personas]\ncareful = 1\n[load]\nusers = 4\n'
                            '[[faults]]\nkind = "spam"\nprobability = 1.0\nstart = 60\nend = 150\n', encoding="utf-8")
        run_dir = tmp_path / "run"
        proc = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario), "--target", s.portal_url,
                               "--inbox-url", s.inbox_url, "--accounts-file", str(accounts), "--out", str(run_dir),
                               "--quiet"], capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
        assert (run_dir / "verdict.json").exists(), proc.stderr[-2000:]
        assert InboxApi(s.inbox_url).faults()["rules"] == []                   # the inbox's own plan is back
    finally:
        s.stop()
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    inbox = [h for h in history if h.get("src") == "inbox"]
    assert inbox and all(-60 < h["st"] < 400 for h in inbox), sorted(h["st"] for h in inbox)[:3]
    spam = [h["st"] for h in inbox if h.get("event") == "spam"]
    delivered = [h["st"] for h in inbox if h.get("event") == "delivered"]
    assert spam, "no code was routed to spam inside the window"
    assert all(58 <= st <= 152 for st in spam), spam
    assert any(st < 58 or st > 152 for st in delivered), "no delivery outside the window"


def test_a_kill_portal_step_cannot_run_against_a_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "portal-restart", "--target", "http://127.0.0.1:9", "--inbox-url", "http://127.0.0.1:9",
                 "--out", str(tmp_path / "r2"), "--quiet"])
    assert code == 2 and "kill-portal step needs the portal the run starts itself" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize(("scenario", "step"), [("clock-jump", "clock-jump"), ("notification-change", "change-notification")])
def test_a_harness_step_is_refused_against_a_target_without_harness_endpoints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, step: str) -> None:
    """The steps POST to the target's /_harness; a foreign profile (clock_scale 1) has none, so the run
    is refused before anything starts, instead of failing the step mid-run and passing without it."""
    profile = PROFILE_DIR / "flask-security.toml"
    code = main(["run", scenario, "--target", "http://127.0.0.1:9", "--inbox-url", "http://127.0.0.1:9",
                 "--target-profile", str(profile), "--time-scale", "1", "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"{step} step needs the target's /_harness endpoints" in err, err
    assert 'profile flask-security does not declare policy.clock_scale = "harness"' in err
    assert not (tmp_path / "r").exists()
