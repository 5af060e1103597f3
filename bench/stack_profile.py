"""Where the stack's CPU goes per MFA login: each process's CPU split by component.

One stack round exactly as ``end_to_end`` runs it (portal with the cheap password profile, inbox,
Locust with the default personas, 100 users at ×100). Meanwhile ``py-spy`` samples the portal, the
inbox and the Locust process (``--nonblocking``: the processes are never paused). Each sample is
charged to a component by the file of its innermost Python frame, or, when that frame is in a layer
that works for its caller (asyncio, gevent, the stdlib), by the nearest caller outside those layers.

Time spent in C is charged to the Python function that called it. SQLite's work therefore counts
under ``server/storage_core.py``, and a socket send under Tornado's ``iostream``. A component's
ms per login is its share of the process's samples times the process's CPU per MFA login. That CPU
is read from /proc in the round's steady window, as ``end_to_end`` reads it. The samplers cost CPU
of their own, so this round's logins/s is not comparable with ``end_to_end``'s. Its CPU per login
is.

This is the profile behind the end-to-end figure (issue 15): what a portal request costs beyond
a hello-world one, and what the generator and the inbox cost beside it.

    python -m bench.stack_profile                   # prints a table; JSON to bench/results/stack_profile.json
    python -m bench.stack_profile --seconds 20 --out /tmp/prof

Needs ``py-spy`` (``pip install py-spy``) and permission to attach to the processes (ptrace). It is
not part of the suite or CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.end_to_end import TIME_SCALE, measure_stack_round
from bench.measure import machine
from mfa_harness.scenarios.stack import LocalStack, StackConfig

RESULTS = Path(__file__).resolve().parent / "results" / "stack_profile.json"
RATE_HZ = 100
# (component, substrings of the innermost frame's file); the first match wins
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("storage (SQLite)", ("server/storage_core.py", "server/storage.py", "sqlite3/")),
    ("templates", ("tornado/template.py", ".generated.py")),
    ("mail out (outbox, SMTP client)", ("server/smtp_send.py", "server/outbox", "server/mail.py", "aiosmtplib/")),
    ("portal logic", ("server/",)),
    ("SMTP server (aiosmtpd)", ("aiosmtpd/", "fake_smtp/smtp_handler.py")),
    ("inbox store, search, API", ("fake_smtp/",)),
    ("harness client (loadtests)", ("loadtests/",)),
    ("Locust and its HTTP client", ("locust/", "geventhttpclient/")),
    ("gevent", ("gevent/", "greenlet")),
    ("HTTP server (Tornado)", ("tornado/http1connection.py", "tornado/iostream.py", "tornado/httputil.py",
                               "tornado/httpserver.py", "tornado/routing.py", "tornado/tcpserver.py",
                               "tornado/netutil.py")),
    ("web framework (Tornado RequestHandler)", ("tornado/web.py", "tornado/escape.py", "http/cookies.py",
                                                 "hmac.py", "email/utils.py", "email/_parseaddr.py")),
    ("event loop (asyncio, Tornado IOLoop)", ("asyncio/", "selectors.py", "tornado/ioloop.py",
                                              "tornado/platform/", "tornado/gen.py", "tornado/concurrent.py",
                                              "contextlib.py", "socket.py")),
    ("JSON", ("json/", "msgspec")),
    ("email parsing", ("email/",)),
    ("shared harness modules", ("mfa_harness/",)),
)


# innermost frames that wait for I/O: the event loop's epoll and gevent's hub (libev). py-spy
# counts a thread as busy while it is runnable, so on a loaded machine these show up although
# the process spends little CPU there; they are left out and the rest is scaled to the CPU.
WAITING = ("EpollSelector.select (selectors.py:", "Hub.run (gevent/hub.py:")


OTHER = "other (stdlib, interpreter)"
# layers that do work for whoever called them: a sample there is charged to the nearest caller
# outside them (a socket connect to the outbox's SMTP client, a gevent socket send to Locust's client)
GENERIC = frozenset({"event loop (asyncio, Tornado IOLoop)", "gevent", OTHER})
# where the loop hands control to a callback or a greenlet: callers above it are the loop, not a component
DISPATCH = ("Handle._run (asyncio/events.py:", "BaseEventLoop._run_once (asyncio/base_events.py:",
            "Hub.run (gevent/hub.py:", "Greenlet.run (gevent/greenlet.py:")


def component(frame: str) -> str:
    """The component of a py-spy raw frame like ``fn (path/to/file.py:123)``."""
    path = frame.rpartition(" (")[2]
    for name, marks in COMPONENTS:
        if any(m in path for m in marks):
            return name
    return OTHER


def charged_to(frames: list[str]) -> str:
    """The component a sample is charged to: that of the innermost frame outside the generic layers,
    else (the loop's or the hub's own work) that of the innermost frame."""
    for frame in reversed(frames):
        if frame.startswith(DISPATCH):
            break
        name = component(frame)
        if name not in GENERIC:
            return name
    return component(frames[-1])


def split_samples(raw: Path) -> tuple[int, Counter[str]]:
    """Busy samples, and samples per component, of one py-spy ``--format raw`` file."""
    per: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(WAITING):
            per["(waiting for I/O, left out)"] += int(count)
            continue
        total += int(count)
        per[charged_to(frames)] += int(count)
    return total, per


def _spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(["py-spy", "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", str(RATE_HZ),
                             "-f", "raw", "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _locust_child(deadline: float) -> int | None:
    """The pid of the Locust process this process starts next (a child with ``locust`` in its argv)."""
    me = os.getpid()
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"locust" in argv[:3]:
                return int(entry)
        time.sleep(0.05)
    return None


def profile(seconds: int, users: int, work: Path) -> dict[str, Any]:
    """One stack round under the samplers; per process: CPU ms per login and its split."""
    epoch = time.time()
    stack = LocalStack(StackConfig(out=work / "stack", epoch=epoch, time_scale=TIME_SCALE, seed=6,
                                   partners=600, password_profile="cheap"))
    spies: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        stack.start()
        assert stack.portal is not None and stack.inbox is not None
        window = seconds - 2.5
        for name, pid in (("portal", stack.portal.proc.pid), ("inbox", stack.inbox.proc.pid)):
            spies[name] = (_spy(pid, window + 1.5, work / f"{name}.raw"), work / f"{name}.raw")

        def spy_locust() -> None:
            pid = _locust_child(time.monotonic() + 30)
            if pid is not None:
                time.sleep(1.5)  # after spawning, as the portal's and inbox's windows
                spies["locust"] = (_spy(pid, window, work / "locust.raw"), work / "locust.raw")

        finder = threading.Thread(target=spy_locust, daemon=True)
        finder.start()
        rnd = measure_stack_round(stack, users, seconds, work, "profiled", epoch)
        finder.join(timeout=30)
        for proc, _ in spies.values():
            proc.wait(timeout=120)
    finally:
        for proc, _ in spies.values():
            if proc.poll() is None:
                proc.kill()
        stack.stop()
    out: dict[str, Any] = {"logins_in_window": rnd.in_window, "processes": {}}
    for name in ("locust", "portal", "inbox"):
        ms = rnd.cpu[name] / rnd.in_window * 1e3
        entry: dict[str, Any] = {"cpu_ms_per_login": round(ms, 3)}
        if name in spies and spies[name][1].exists():
            total, per = split_samples(spies[name][1])
            waiting = per.pop("(waiting for I/O, left out)", 0)
            entry["samples"], entry["waiting_samples_left_out"] = total, waiting
            entry["components_ms_per_login"] = {k: round(ms * v / total, 3) for k, v in per.most_common()} if total else {}
        else:
            entry["error"] = spies[name][0].stderr.read().decode(errors="replace")[-300:] if name in spies \
                else "py-spy never attached (no Locust child found)"
        out["processes"][name] = entry
    return out


def table(doc: dict[str, Any]) -> str:
    lines = ["| process | component | ms per MFA login | share of the process |", "| --- | --- | --- | --- |"]
    for name, p in doc["processes"].items():
        lines.append(f"| **{name}** | all | **{p['cpu_ms_per_login']:.2f}** | 100 % |")
        for comp, ms in p.get("components_ms_per_login", {}).items():
            share = 100 * ms / p["cpu_ms_per_login"] if p["cpu_ms_per_login"] else 0.0
            if share >= 1.0:
                lines.append(f"|  | {comp} | {ms:.2f} | {share:.0f} % |")
        if "error" in p:
            lines.append(f"|  | (not sampled: {p['error'].strip()[:120]}) | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stack_profile", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=15, help="length of the Locust run (default 15)")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--out", type=Path, default=None, help="keep the raw samples here (default: a temporary dir)")
    p.add_argument("--json", type=Path, default=RESULTS, help=f"where the result goes (default {RESULTS})")
    args = p.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("python -m bench.stack_profile: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    if args.seconds < 6:
        print("python -m bench.stack_profile: --seconds must be at least 6", file=sys.stderr)
        return 2
    work = args.out or Path(tempfile.mkdtemp(prefix="stack-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    doc = {"benchmark": "stack_profile", "date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
           "machine": machine(), "params": {"seconds": args.seconds, "users": args.users, "rate_hz": RATE_HZ},
           **profile(args.seconds, args.users, work)}
    doc["seconds"] = round(time.monotonic() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(table(doc))
    print(f"  -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
