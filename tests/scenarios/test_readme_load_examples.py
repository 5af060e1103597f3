"""The README's "Load tests on their own" examples, run as written against `mfa-harness up`.

The commands are read from README.md itself. Only the fixed ports 8080 and 8025 are swapped
for ports the OS reports free (other programs share this machine), and the 5-minute tests are
stopped with Ctrl-C (SIGINT) once enough logins went through, as a person would: Locust then
writes its summary and exits 0, or 3 when the README's threshold was missed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from child_pids import alive, ready_pids
from test_up import _free_ports, _Stdout

from mfa_harness.scenarios.up import LOCUSTFILE

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
LOCUST = Path(sys.executable).parent / "locust"
MFA_HARNESS = [sys.executable, "-m", "mfa_harness.scenarios.cli"]
ENOUGH_FLOWS = 30               # completed logins before the test stops Locust (bounded by FLOW_DEADLINE_S)
FLOW_DEADLINE_S = 150.0
SPAWNED = re.compile(rb"All users spawned|Spawning is complete")     # Locust's words (a master's, when late)


def readme_blocks(heading: str) -> list[str]:
    """The fenced code blocks of one README section, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [re.sub(r"\\\n\s*", "", block).strip() for block in re.findall(r"```\n(.*?)```", section, re.S)]


def with_ports(command: str, portal: int, inbox: int) -> str:
    return command.replace("8080", str(portal)).replace("8025", str(inbox))


class Up:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str], cwd: Path, portal: int, inbox: int):
        self.proc, self.lines, self.cwd, self.portal, self.inbox = proc, lines, cwd, portal, inbox

    def printed_locust_command(self) -> str:
        start = next(i for i, line in enumerate(self.lines) if line.startswith("Load test this stack")) + 1
        end = self.lines.index("", start)
        return re.sub(r"\\\n\s*", "", "\n".join(self.lines[start:end])).strip()


@pytest.fixture(scope="module")
def up_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """The README's `mfa-harness up` command, in a folder where `loadtests/locustfile.py` is the checkout's."""
    cwd = tmp_path_factory.mktemp("readme")
    (cwd / "loadtests").symlink_to(REPO / "loadtests")
    portal, inbox, smtp = _free_ports(3)
    command = with_ports(readme_blocks("Load tests on their own (Locust)")[0], portal, inbox)
    assert command.startswith("mfa-harness up "), command
    argv = MFA_HARNESS + shlex.split(command)[1:] + ["--smtp-port", str(smtp)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, cwd=cwd)
    pids: list[int] = []
    try:
        lines = _Stdout(proc).until("Ctrl-C stops both", timeout=180)
        logs = next(cwd.glob("runs/*-up")) / "logs"
        pids = ready_pids(logs / "portal.log", logs / "inbox.log")
        yield Up(proc, lines, cwd, portal, inbox)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class OkFlows:
    """Completed logins in a history file another process appends to, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.count, self.rest = path, 0, 0, b""

    def __call__(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return self.count
        self.offset += len(chunk)
        *lines, self.rest = (self.rest + chunk).split(b"\n")
        for raw in lines:
            line = json.loads(raw)
            self.count += line.get("op") == "flow" and line.get("type") == "ok"
        return self.count


def as_in_a_terminal() -> None:
    """In the child: SIGINT as a terminal's foreground job gets it. A CI job started in the background
    inherits SIGINT ignored, and Locust rightly keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stuck_report(pid: int) -> str:
    """What a Locust that ignores Ctrl-C is doing: its state, where it sleeps, which signals it ignores
    or blocks (SIGINT is bit 2), and this test process's own SIGINT disposition (children inherit SIG_IGN)."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("State", "SigIgn", "SigBlk", "SigCgt", "Threads"):
                fields[key] = value.strip()
        fields["wchan"] = Path(f"/proc/{pid}/wchan").read_text()
    except OSError as e:
        fields["error"] = str(e)
    return f"Locust {fields}, pytest SIGINT handler {signal.getsignal(signal.SIGINT)!r}, load {os.getloadavg()}"


def run_until_enough_logins(argv: list[str], cwd: Path, log: Path) -> tuple[int, int]:
    """Start Locust, Ctrl-C it (SIGINT to its process group, as a terminal does) once every user is
    spawned and ENOUGH_FLOWS logins completed (bounded); its exit code and the log's size at Ctrl-C."""
    ok_flows = OkFlows(cwd / "history.jsonl")
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                start_new_session=True, preexec_fn=as_in_a_terminal)
    try:
        deadline = time.monotonic() + FLOW_DEADLINE_S
        while time.monotonic() < deadline and proc.poll() is None and (
                ok_flows() < ENOUGH_FLOWS or not SPAWNED.search(log.read_bytes())):
            time.sleep(0.5)       # a bounded poll of files another process writes
        if b"The last worker went missing" in log.read_bytes():
            pytest.skip(f"Locust's workers missed their heartbeats and it stopped the test: the machine is "
                        f"overloaded (load average {os.getloadavg()[0]:.1f}), nothing to judge the example by")
        assert proc.poll() is None, "Locust ended by itself: " + log.read_text(errors="replace")[-3000:]
        assert ok_flows() >= ENOUGH_FLOWS, f"{ok_flows()} logins in {FLOW_DEADLINE_S} s: " + \
            log.read_text(errors="replace")[-3000:]
        before_ctrl_c = log.stat().st_size
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=120), before_ctrl_c
        except subprocess.TimeoutExpired:
            raise AssertionError(f"Locust did not stop within 120 s of Ctrl-C; {stuck_report(proc.pid)}; log tail: "
                                 + log.read_text(errors="replace")[-2000:]) from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def check_run(cwd: Path, log: Path, run: tuple[int, int]) -> dict:
    code, before_ctrl_c = run
    output = log.read_text(errors="replace")
    assert code in (0, 3), output[-3000:]
    assert "no unused account" not in output, output[-3000:]
    # until Ctrl-C nothing failed (then KeyboardInterrupt lands in whichever greenlet runs, and Locust
    # prints what it interrupted)
    assert "Traceback" not in output[:before_ctrl_c], "a traceback before Ctrl-C: " + output[:before_ctrl_c][-3000:]
    summary = json.loads((cwd / "summary.json").read_text(encoding="utf-8"))
    if b"failed to send heartbeat" not in log.read_bytes():
        # (a worker starved of CPU misses its heartbeats; Locust then moves its users to the other
        # worker, which has only its own share of the accounts: an overloaded machine, not the example)
        assert summary["users_without_account"] == {}, summary["users_without_account"]
    assert summary["outcomes"].get("ok", 0) >= ENOUGH_FLOWS, summary["outcomes"]
    return summary


def test_up_prints_the_readme_locust_command_and_it_runs_as_written(up_stack: Up) -> None:
    text = "\n".join(up_stack.lines)
    assert "seeded 100 accounts:" in text and "time scale x30" in text
    readme = with_ports(readme_blocks("Load tests on their own (Locust)")[1], up_stack.portal, up_stack.inbox)
    # what `up` prints is the README's example; installed without a checkout (tox), `up` names the
    # package's own locustfile instead of the checkout-relative path, which is right there
    printed = up_stack.printed_locust_command().replace(f"-f {shlex.quote(str(LOCUSTFILE))} ",
                                                        "-f loadtests/locustfile.py ")
    assert printed == readme
    argv = shlex.split(readme)
    assert argv[0] == "locust" and "-u" in argv and argv[argv.index("-u") + 1] == "50"
    log = up_stack.cwd / "locust.log"
    summary = check_run(up_stack.cwd, log, run_until_enough_logins([str(LOCUST), *argv[1:]], up_stack.cwd, log))
    assert set(summary["personas"]) == {"careful", "hasty", "affiliate"}


def test_the_readme_distributed_command_runs_on_a_shared_machine(up_stack: Up) -> None:
    command = with_ports(readme_blocks("Load tests on their own (Locust)")[2], up_stack.portal, up_stack.inbox)
    assert command.startswith("mfa-harness locust --processes 2 ")
    for name in ("history.jsonl", "summary.json"):
        (up_stack.cwd / name).unlink(missing_ok=True)
    log = up_stack.cwd / "locust-distributed.log"
    summary = check_run(up_stack.cwd, log, run_until_enough_logins(MFA_HARNESS + shlex.split(command)[1:],
                                                                   up_stack.cwd, log))
    assert len(summary["workers_reported"]) == 2, summary["workers_reported"]   # Ctrl-C lost no worker's numbers
