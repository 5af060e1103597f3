"""The portal's and the inbox's pids, read from their ready lines in the run's logs, and
whether each is still running: how the teardown tests see that nothing was left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path


def ready_pids(*logs: Path) -> list[int]:
    """Pids announced by `{"ready": ..., "pid": N}` lines of these log files (missing files: none)."""
    pids = []
    for path in logs:
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            if line.startswith("{") and '"ready"' in line:
                pids.append(int(json.loads(line)["pid"]))
    return pids


def alive(pid: int) -> bool:
    """Running (a zombie, already exited but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def children(pid: int) -> list[int]:
    """The running processes whose parent is `pid` (a pre-forking portal's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:        # gone meanwhile
            continue
        state, ppid = stat.rsplit(") ", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found
