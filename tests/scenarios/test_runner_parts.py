"""The runner's parts (issue 10): errors that carry their facts, options checked once, a typed run record.

Nothing here reads an error's words to decide anything: a child's reason arrives as a JSON error
line with fields, `up` names the option to change from the `listener` field, and `run.json`
round-trips through one typed record.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_harness.errors import ERROR_LINE_ENV, EXIT_SETUP, HarnessError, ListenError, OptionError, from_line
from mfa_harness.scenarios.cli import _start_failure
from mfa_harness.scenarios.run_options import RunOptions
from mfa_harness.scenarios.run_record import LoadFacts, RunRecord
from mfa_harness.scenarios.stack import StackError, start_child

# run.json's keys as the runner has always written them, in order (README "The output folder")
RUN_JSON_KEYS = ["scenario", "scenario_file", "seed", "time_scale", "duration", "epoch", "white_box", "policy",
                 "policy_source", "partners", "population", "fault_plan", "nemesis", "bugs", "expected", "strict",
                 "accounts", "users", "max_error_share", "workers", "processes", "locust_exit", "thresholds",
                 "thresholds_asked", "load", "nemesis_errors", "command", "portal_restarts", "phases"]


def test_an_error_carries_its_exit_code_and_fields_through_a_json_line() -> None:
    err = ListenError("cannot listen for SMTP on 127.0.0.1:25: Permission denied", listener="smtp",
                      host="127.0.0.1", port=25, why="Permission denied")
    assert err.exit_code == EXIT_SETUP and err.field("port") == 25 and err.field("nope") is None
    back = from_line(json.loads(err.json_line()))
    assert isinstance(back, HarnessError)
    assert back.message == err.message and back.exit_code == EXIT_SETUP
    assert back.fields == {"listener": "smtp", "host": "127.0.0.1", "port": 25, "why": "Permission denied"}
    assert from_line({"ready": "inbox"}) is None and from_line("text") is None


def _child(tmp_path: Path, line: dict[str, object]) -> StackError:
    """A child that says why it cannot start with `line` on stdout (the way mfa_harness.errors.tell_parent does)."""
    code = f"import json, sys; print(json.dumps({line!r})); sys.exit(2)"
    with pytest.raises(StackError) as failed:
        start_child("inbox", [sys.executable, "-c", code], tmp_path / "child.log", timeout=60)
    return failed.value


def test_the_option_to_change_comes_from_the_listener_field_not_the_words(tmp_path: Path) -> None:
    """`up` used to look for "for SMTP" and "listen" in the child's message: another wording lost the hint,
    and a message that happened to contain those words got a wrong one."""
    worded_otherwise = _child(tmp_path, {"error": "port 2525 taken", "listener": "smtp", "port": 2525})
    assert worded_otherwise.cause == {"listener": "smtp", "port": 2525} and worded_otherwise.reason == "port 2525 taken"
    assert _start_failure(worded_otherwise) == \
        "inbox did not start: port 2525 taken (choose another --smtp-port, or 0 for a free one)"
    no_listener = _child(tmp_path, {"error": "cannot listen for SMTP: the Maildir is not writable"})
    assert _start_failure(no_listener) == "inbox did not start: cannot listen for SMTP: the Maildir is not writable"


def test_a_child_without_an_error_line_is_named_with_its_exit_and_log(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('x: error: something\\n'); sys.exit(3)"
    with pytest.raises(StackError) as failed:
        start_child("portal", [sys.executable, "-c", code], tmp_path / "portal.log", timeout=60)
    assert failed.value.reason == "" and failed.value.field("exit") == 3
    assert failed.value.message.startswith("portal did not become ready (exit 3); log ")


def test_the_inbox_says_which_listener_could_not_bind(tmp_path: Path) -> None:
    """fake_smtp's error line names the listener and port; without the parent's variable it writes none."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", str(port), "--http-port", "0"]
        env = {k: v for k, v in os.environ.items() if k != ERROR_LINE_ENV}
        alone = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
        assert alone.returncode == 2 and alone.stdout == "" and "cannot listen for SMTP" in alone.stderr
        with pytest.raises(StackError) as failed:
            start_child("inbox", argv, tmp_path / "inbox.log", timeout=60)
    assert failed.value.cause == {"listener": "smtp", "host": "127.0.0.1", "port": port}
    assert "--smtp-port" in _start_failure(failed.value)


@pytest.mark.parametrize(("kwargs", "option"), [
    ({"workers": -1}, "--workers"),
    ({"max_error_share": 1.5}, "--max-error-share"),
    ({"target": "http://127.0.0.1:9"}, "--target"),
    ({"inbox_url": "http://127.0.0.1:9"}, "--inbox-url"),
    ({"accounts_file": Path("a.json")}, "--accounts-file"),
    ({"target_profile": Path("/nonexistent/profile.toml")}, "--target-profile"),
])
def test_options_are_checked_once_when_they_are_made(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(OptionError) as refused:
        RunOptions(**kwargs)  # type: ignore[arg-type]
    assert refused.value.field("option") == option and refused.value.exit_code == EXIT_SETUP


def test_the_run_record_writes_run_json_as_before_and_reads_it_back() -> None:
    record = RunRecord(scenario="smoke", scenario_file="smoke.toml", seed=1, time_scale=60.0, duration=300.0,
                       epoch=1.5, policy={"code_lifetime": 300}, policy_source="profile x", partners=8,
                       fault_plan={"seed": 1, "rules": []}, users=8, max_error_share=0.0, locust_exit=0,
                       thresholds_asked=["loops == 0"], load=LoadFacts(users_asked=8, users_peak=8),
                       phases={"locust_s": 5.0})
    data = json.loads(json.dumps(record.to_json()))
    assert list(data) == RUN_JSON_KEYS
    assert RunRecord.from_json(data) == record
    bare = RunRecord(scenario="smoke").to_json()           # written only when set, as before
    assert "policy_source" not in bare and "max_error_share" not in bare
    old = RunRecord.from_json({"scenario": "smoke", "seed": 1, "unknown_key": 1})     # an older or newer file
    assert old.white_box is True and old.load is None and old.expected == {"violations": 0}
