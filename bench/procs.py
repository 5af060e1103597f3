"""Starting and watching the processes a benchmark measures, always torn down.

Children are started with ``mfa_harness.scenarios.stack.start_child`` (ready line on stdout, see
docs/interfaces.md "Processes"), each in its own session, so its process group holds any
worker it forks; CPU time and RSS are read from /proc for the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from mfa_harness.scenarios.stack import Child, start_child

CLK_TCK = os.sysconf("SC_CLK_TCK")


def python_child(name: str, module: str, args: list[str], logs: Path, timeout: float = 60.0) -> Child:
    """`python -m module args` started and ready (raises StackError with its log tail if not)."""
    return start_child(name, [sys.executable, "-m", module, *args], logs / f"{name}.log", timeout=timeout)


def inbox_child(logs: Path, *extra: str, name: str = "inbox") -> Child:
    return python_child(name, "fake_smtp", ["--smtp-host", "127.0.0.1", "--smtp-port", "0", "--http-host",
                                            "127.0.0.1", "--http-port", "0", *extra], logs)


def stop_child(child: Child) -> None:
    """SIGTERM the child's group, then the child (SIGKILL after a timeout)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.proc.pid, signal.SIGTERM)
    child.stop(timeout=15.0)


@contextlib.contextmanager
def running(*children: Child) -> Iterator[tuple[Child, ...]]:
    """Stop every given child on exit, whatever happened."""
    try:
        yield children
    finally:
        for c in children:
            stop_child(c)


def group_pids(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (the child and what it forked)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def group_cpu_seconds(pgid: int) -> float:
    total = 0.0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def rss_bytes(pid: int) -> int:
    """VmRSS of one process."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def group_rss_bytes(pgid: int) -> int:
    total = 0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            total += rss_bytes(pid)
    return total
