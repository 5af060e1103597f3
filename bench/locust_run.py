"""Running Locust headless as a child process, bounded in time, with its CPU time and peak RSS.

The CPU time and peak RSS come from ``wait4`` on the Locust process itself, so they are
Locust's own (not the servers'). Peak RSS of other processes is sampled while it runs.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parent.parent / "loadtests" / "locustfile.py"
HELLO_LOCUSTFILE = Path(__file__).resolve().parent / "hello_locustfile.py"
BARE_MFA_LOCUSTFILE = Path(__file__).resolve().parent / "bare_mfa_locustfile.py"


@dataclass
class LocustRun:
    returncode: int
    wall_s: float
    cpu_s: float
    maxrss_bytes: int
    csv_prefix: Path
    log: Path
    peaks: dict[str, int] = field(default_factory=dict)    # peak of each watched probe (e.g. RSS)
    series: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (wall, probe values)

    def at(self, wall: float, name: str) -> float:
        """The probe value sampled closest to `wall`."""
        best = min(self.series, key=lambda s: abs(s[0] - wall))
        return best[1][name]

    def aggregated(self) -> dict[str, str]:
        """The "Aggregated" row of Locust's stats CSV."""
        with open(f"{self.csv_prefix}_stats.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("Name") == "Aggregated":
                    return row
        return {}

    def failures(self, limit: int = 10) -> list[dict[str, str]]:
        """Rows of Locust's failures CSV (method, name, error, occurrences)."""
        try:
            with open(f"{self.csv_prefix}_failures.csv", encoding="utf-8") as f:
                return list(csv.DictReader(f))[:limit]
        except OSError:
            return []

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def request_counts(self) -> list[tuple[float, int, int]]:
        """(Unix second, users, cumulative requests) of the Aggregated rows of Locust's per-second
        `_stats_history.csv`: how many requests were made inside any window of the run."""
        out = []
        try:
            with open(f"{self.csv_prefix}_stats_history.csv", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get("Name") == "Aggregated":
                        out.append((float(row["Timestamp"]), int(row["User Count"]), int(row["Total Request Count"])))
        except (OSError, KeyError, ValueError):
            return []
        return out

    def requests_between(self, w0: float, w1: float) -> int | None:
        """Requests made between wall times `w0` and `w1` (per-second resolution), None without data."""
        counts = self.request_counts()
        if len(counts) < 2:
            return None

        def at(w: float) -> int:
            return min(counts, key=lambda c: abs(c[0] - w))[2]

        return max(0, at(w1) - at(w0))

    def rows(self) -> list[dict[str, str]]:
        with open(f"{self.csv_prefix}_stats.csv", encoding="utf-8") as f:
            return list(csv.DictReader(f))


def run_locust(locustfile: Path, host: str, users: int, spawn_rate: float, seconds: int, out: Path, tag: str,
               extra: list[str] | None = None, watch: dict[str, Callable[[], int]] | None = None,
               series: dict[str, Callable[[int], float]] | None = None, grace: float = 60.0,
               stop_when: Callable[[list[tuple[float, dict[str, float]]]], bool] | None = None) -> LocustRun:
    """`locust --headless` for `seconds` (+ `grace` to stop); killed if it overruns.

    `watch` probes are sampled every quarter second and their peaks kept; `series` probes get
    the Locust pid and are kept as a time series (e.g. CPU seconds of Locust and the portal).
    `stop_when(series)` true sends Locust SIGTERM (it stops its users and writes its stats).
    """
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / f"{tag}"
    log_path = out / f"{tag}.log"
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r",
            str(spawn_rate), "-t", f"{seconds}s", "--host", host, "--csv", str(prefix), "--only-summary",
            "--stop-timeout", "5", "--loglevel", "WARNING", *(extra or [])]
    peaks: dict[str, int] = {k: 0 for k in (watch or {})}
    timeline: list[tuple[float, dict[str, float]]] = []
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        t0 = time.monotonic()
        deadline = t0 + seconds + grace
        status, ru = None, None
        stopping = False
        try:
            while True:
                pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    status, ru = st, usage
                    break
                for name, probe in (watch or {}).items():
                    try:
                        peaks[name] = max(peaks[name], probe())
                    except OSError:
                        pass
                if series:
                    try:
                        timeline.append((time.time(), {k: f(proc.pid) for k, f in series.items()}))
                    except OSError:
                        pass
                if stop_when is not None and not stopping and timeline and stop_when(timeline):
                    stopping = True
                    os.killpg(proc.pid, signal.SIGTERM)
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    _pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.25)
        finally:
            if status is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                    os.wait4(proc.pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else -9
        wall = time.monotonic() - t0
    return LocustRun(returncode=proc.returncode, wall_s=wall, cpu_s=ru.ru_utime + ru.ru_stime if ru else 0.0,
                     maxrss_bytes=(ru.ru_maxrss * 1024) if ru else 0, csv_prefix=prefix, log=log_path,
                     peaks=peaks, series=timeline)
