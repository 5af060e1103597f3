"""The local reference stack: portal and inbox as real processes on free loopback ports.

Each child prints one JSON "ready" line on stdout (docs/interfaces.md, "Processes"); we wait
for it with a deadline instead of probing ports, and always tear the children down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mfa_harness.errors import ERROR_LINE_ENV, StartError, from_line


class StackError(StartError):
    """A child of the stack did not start: `child`, and `reason` and `cause` (its error line's fields:
    `listener`, `port`...) when it said why, else its log's end in the message."""


@dataclass
class Child:
    """One started process: its ready line, its log file and how to stop it."""

    name: str
    proc: subprocess.Popen
    ready: dict[str, Any]
    log_path: Path
    argv: list[str]
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, no flushing."""
        if self.alive():
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode


def _tail(path: Path, n: int = 12) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL a child started in its own session, with whatever it forked (Locust's workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_child(name: str, argv: list[str], log_path: Path, *, timeout: float = 60.0,
                env: dict[str, str] | None = None, stdin_pipe: bool = False) -> Child:
    """Start `argv`, stderr to `log_path`, and wait for its JSON ready line on stdout (`stdin_pipe`:
    keep a pipe to its stdin, for a child that waits for a go line after its ready line). A child that
    cannot start says why with a JSON error line (mfa_harness.errors): a StackError with its fields."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                            env={**(os.environ if env is None else env), ERROR_LINE_ENV: "1"}, start_new_session=True)
    found: dict[str, Any] = {}
    failed: dict[str, Any] = {}
    done = threading.Event()

    def read_ready() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = {}
                if "ready" in obj and not found:
                    found.update(obj)
                    done.set()
                elif from_line(obj) and not failed:
                    failed.update(obj)
            log.write(raw)
            log.flush()
        done.set()

    threading.Thread(target=read_ready, name=f"{name}-stdout", daemon=True).start()
    try:
        done.wait(timeout)
    except BaseException:          # Ctrl-C while waiting: the child (and any it forked) must not outlive us
        _kill_session(proc)
        proc.wait(timeout=30)
        log.close()
        raise
    if not found:
        if proc.poll() is None:
            _kill_session(proc)
        proc.wait(timeout=30)
        log.close()
        raise _start_error(name, failed, proc.returncode, log_path)
    return Child(name=name, proc=proc, ready=found, log_path=log_path, argv=argv, _log=log)


def _start_error(name: str, failed: dict[str, Any], code: int | None, log_path: Path) -> StackError:
    """Why a child did not start: its own error line (with its fields), else its exit code and log's end."""
    said = from_line(failed)
    if said is not None:
        return StackError(f"{name} did not start: {said.message} (log {log_path})", child=name,
                          reason=said.message, cause=said.fields, log=str(log_path))
    return StackError(f"{name} did not become ready (exit {code}); log {log_path}:\n{_tail(log_path)}",
                      child=name, log=str(log_path), exit=code)


@dataclass
class StackConfig:
    """What the runner asks of the local stack."""

    out: Path
    epoch: float
    time_scale: float
    seed: int
    partners: int
    processes: int = 1
    bugs: list[str] = field(default_factory=list)
    policy_file: Path | None = None
    faults_file: Path | None = None
    password_profile: str = "cheap"
    population: list[str] = field(default_factory=list)   # portal seeding options (--mix, --team-size)
    portal_port: int = 0          # 0: a free port chosen by the OS
    inbox_http_port: int = 0
    smtp_port: int = 0


class LocalStack:
    """Inbox first (the portal needs its SMTP port), then the portal; stop() is idempotent."""

    def __init__(self, cfg: StackConfig):
        self.cfg = cfg
        self.inbox: Child | None = None
        self.portal: Child | None = None
        self.db_path = cfg.out / "portal.sqlite3"
        self.restarts = 0

    @property
    def portal_url(self) -> str:
        assert self.portal is not None
        return self.portal.ready["url"]

    @property
    def inbox_url(self) -> str:
        assert self.inbox is not None
        return self.inbox.ready["url"]

    def start(self) -> None:
        cfg = self.cfg
        inbox_argv = [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-host", "127.0.0.1", "--smtp-port", str(cfg.smtp_port),
                      "--http-host", "127.0.0.1", "--http-port", str(cfg.inbox_http_port),
                      "--time-scale", str(cfg.time_scale),
                      "--epoch", repr(cfg.epoch)]
        if cfg.faults_file:
            inbox_argv += ["--faults", str(cfg.faults_file)]
        self.inbox = start_child("inbox", inbox_argv, cfg.out / "logs" / "inbox.log")
        self.portal = self._start_portal(port=cfg.portal_port)

    def _portal_argv(self, port: int) -> list[str]:
        cfg = self.cfg
        argv = [sys.executable, "-m", "mfa_harness.server", "--harness", "--host", "127.0.0.1", "--port", str(port),
                "--db", str(self.db_path), "--smtp-host", "127.0.0.1",
                "--smtp-port", str(self.inbox.ready["smtp_port"] if self.inbox else 0),
                "--partners", str(cfg.partners), "--seed", str(cfg.seed),
                "--time-scale", str(cfg.time_scale), "--epoch", repr(cfg.epoch),
                "--processes", str(cfg.processes), "--password-profile", cfg.password_profile,
                *cfg.population]
        if cfg.policy_file:
            argv += ["--policy", str(cfg.policy_file)]
        for bug in cfg.bugs:
            argv += ["--bug", bug]
        return argv

    def _start_portal(self, port: int) -> Child:
        return start_child("portal", self._portal_argv(port), self.cfg.out / "logs" / "portal.log")

    def kill_portal(self) -> None:
        """kill -9 the portal's whole process group (all --processes children)."""
        assert self.portal is not None
        try:
            os.killpg(self.portal.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.portal.proc.wait(timeout=30)
        if self.portal._log:
            self.portal._log.close()
            self.portal._log = None

    def restart_portal(self, timeout: float = 60.0) -> None:
        """Start the portal again on the same port and database (clients keep their URL)."""
        assert self.portal is not None
        port = int(self.portal_url.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.portal = self._start_portal(port)
                break
            except StackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the old socket may linger briefly after kill -9; bounded retry
        self.restarts += 1

    def stop(self) -> None:
        for child in (self.portal, self.inbox):
            if child is None:
                continue
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            child.stop()
