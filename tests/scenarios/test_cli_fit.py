"""What a newcomer reads first: `--version`, help text on every option, `mfa-harness locust`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mfa_harness.fake_smtp.__main__ import build_parser as inbox_parser
from mfa_harness.scenarios.cli import build_parser, main
from mfa_harness.server.__main__ import server_parser
from mfa_harness.server.admin import admin_parser


def _options_without_help(parser: argparse.ArgumentParser, where: str) -> list[str]:
    """Every option and positional of `parser` and its subcommands that shows no help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{where} {name}")
            continue
        if not (action.help or "").strip() and action.help is not argparse.SUPPRESS:
            missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize("parser, where", [(build_parser, "mfa-harness"), (server_parser, "python -m mfa_harness.server"),
                                           (admin_parser, "python -m mfa_harness.server admin"),
                                           (inbox_parser, "python -m mfa_harness.fake_smtp")])
def test_every_option_has_help_text(parser, where: str) -> None:
    assert _options_without_help(parser(), where) == []


def test_up_help_names_password_profile_and_partners(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--password-profile {cheap,default}" in out and "--partners" in out and "accounts to seed" in out


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mfa-harness {version('mfa-harness')}"


def test_locust_subcommand_finds_the_installed_locustfile(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "locust", "--path"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    path = Path(res.stdout.strip())
    from mfa_harness.scenarios.up import LOCUSTFILE

    assert path == LOCUSTFILE and path.is_file() and path.name == "locustfile.py"
    # `mfa-harness locust ...` is Locust with that file: it lists the harness's personas
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "locust", "--list"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Careful" in res.stdout and "Affiliate" in res.stdout
    res = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "locust", "-f", "x.py"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2 and "sets -f itself" in res.stderr and "Traceback" not in res.stderr


def test_processes_get_a_loopback_master_on_a_free_port_that_workers_dial() -> None:
    from mfa_harness.scenarios.cli import _flag_value, distributed_args

    args = distributed_args(["--processes", "2", "--headless"])
    port = _flag_value(args, "--master-bind-port")
    assert _flag_value(args, "--master-bind-host") == "127.0.0.1"
    assert port is not None and port != "5557" and _flag_value(args, "--master-port") == port
    # a port given for either side is used for both; explicit flags are kept; workers are left alone
    args = distributed_args(["--processes", "2", "--master-bind-port", "5599"])
    assert _flag_value(args, "--master-port") == "5599"
    args = distributed_args(["--processes=2", "--master-bind-host=0.0.0.0", "--master-port=6000"])
    assert _flag_value(args, "--master-bind-host") == "0.0.0.0" and _flag_value(args, "--master-bind-port") == "6000"
    assert distributed_args(["--worker", "--processes", "2"]) == ["--worker", "--processes", "2"]
    assert distributed_args(["--headless"]) == ["--headless"]
