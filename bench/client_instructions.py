"""Instructions per request of the load generator, counted by callgrind: repeatable on a busy machine.

CPU time per request (what `end_to_end` reports) moves by a third from round to round when other
work shares the machine; the instructions a process executes do not. This tool runs Locust under
``valgrind --tool=callgrind`` against one local stack, one side after the other: the harness as
checked out, the harness of another checkout (``--old DIR``, e.g. ``git archive REV | tar -x -C DIR``), and
the bare same-mix client (``bare_mfa_locustfile.py``). After warm-up, ``callgrind_control -d``
resets the counts; ``--window`` seconds later a second dump holds the window's instructions,
divided by the requests in it (Locust's per-second stats; the harness's inbox requests counted
in proportion to the logins in the window).

    python -m bench.client_instructions --old /tmp/old-checkout --users 2 --window 120

``--old DIR`` is put first on the Locust process's ``PYTHONPATH``, so DIR must hold an importable
``mfa_harness`` package: ``pip install --no-deps --target DIR /path/to/old/checkout``. ``--sides``
picks the sides and their order (``--sides new`` measures only the working tree again after an edit).

Needs valgrind. Use few users so that no side saturates under valgrind (a saturated gevent loop
takes several responses per wake-up and the sides stop being comparable). Not part of the suite:
minutes per side. Counts are user space only (the kernel's socket work is the same for all sides).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.end_to_end import PERSONAS, TIME_SCALE
from bench.locust_run import BARE_MFA_LOCUSTFILE, LOCUSTFILE
from mfa_harness.scenarios.stack import LocalStack, StackConfig


def _aggregated(prefix: Path) -> list[tuple[float, int, int]]:
    """(Unix second, users, cumulative requests) of the Aggregated rows of the stats history."""
    rows = []
    try:
        with open(f"{prefix}_stats_history.csv", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r.get("Name") == "Aggregated":
                    rows.append((float(r["Timestamp"]), int(r["User Count"]), int(r["Total Request Count"])))
    except (OSError, ValueError, KeyError):
        pass
    return rows


def _instructions(dump: Path) -> int:
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def _logins_and_inbox(side_out: Path, hist: Path, w0: float, w1: float) -> tuple[int, float]:
    """Partner flows that ended ok inside [w0, w1], and the inbox requests in proportion to them."""
    walls = []
    with open(hist, encoding="utf-8") as f:
        for raw in f:
            line = json.loads(raw)
            if line.get("op") == "flow" and line.get("type") == "ok" and line.get("persona") != "affiliate":
                walls.append(float(line["wall"]))
    logins = sum(1 for w in walls if w0 <= w <= w1)
    with open(f"{side_out}_stats.csv", encoding="utf-8") as f:
        inbox = sum(int(r["Request Count"]) for r in csv.DictReader(f) if r.get("Type") == "INBOX")
    return logins, inbox * logins / max(1, len(walls))


def measure(side: str, stack: LocalStack, epoch: float, out: Path, users: int, warm: float, window: float,
            pythonpath: str | None) -> dict[str, Any]:
    prefix = out / side
    hist = out / f"{side}.jsonl"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    extra = ["--inbox-url", stack.inbox_url, "--time-scale", str(TIME_SCALE)]
    if side != "bare":
        extra += ["--accounts-url", stack.portal_url + "/_harness/accounts", "--epoch", repr(epoch),
                  "--history-file", str(hist), "--personas", PERSONAS]
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg-{side}.%p", sys.executable, "-m",
            "locust", "-f", str(BARE_MFA_LOCUSTFILE if side == "bare" else LOCUSTFILE), "--headless", "-u",
            str(users), "-r", str(users), "-t", "3600s", "--host", stack.portal_url, "--csv", str(prefix),
            "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING", *extra]
    with open(out / f"{side}.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not any(r[1] >= users and r[2] > 0 for r in _aggregated(prefix)):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{side}: no steady load (see {out / (side + '.log')})")
            time.sleep(1)
        time.sleep(warm)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=120, check=True)
        w0 = time.time()
        time.sleep(window)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, timeout=120, check=True)
        w1 = time.time()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    ir = _instructions(out / f"cg-{side}.{proc.pid}.2")
    rows = _aggregated(prefix)

    def at(w: float) -> int:
        return min(rows, key=lambda r: abs(r[0] - w))[2]

    requests: float = at(w1) - at(w0)
    logins = 0
    if side != "bare":
        logins, inbox = _logins_and_inbox(prefix, hist, w0, w1)
        requests += inbox
    return {"side": side, "instructions": ir, "window_s": round(w1 - w0, 1), "requests": round(requests, 1),
            "logins": logins, "per_request": round(ir / max(1.0, requests)),
            "per_login": round(ir / logins) if logins else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.client_instructions", description=__doc__.split("\n")[0])
    p.add_argument("--old", help="another checkout whose loadtests/ to measure as the 'old' side")
    p.add_argument("--users", type=int, default=2)
    p.add_argument("--warm", type=float, default=10.0)
    p.add_argument("--window", type=float, default=120.0)
    p.add_argument("--out", type=Path, default=Path("client-instructions"))
    p.add_argument("--sides", default="new,bare,old",
                   help="comma-separated sides to measure, in order (old only with --old); e.g. 'new' again after an edit")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    epoch = time.time()
    stack = LocalStack(StackConfig(out=args.out / "stack", epoch=epoch, time_scale=TIME_SCALE, seed=6,
                                   partners=600, password_profile="cheap"))
    wanted = [w.strip() for w in args.sides.split(",") if w.strip()]
    sides = [(w, args.old if w == "old" else None) for w in wanted if w != "old" or args.old]
    results = []
    try:
        stack.start()
        for side, path in sides:
            results.append(measure(side, stack, epoch, args.out, args.users, args.warm, args.window, path))
            print(json.dumps(results[-1]), flush=True)
    finally:
        stack.stop()
    (args.out / "result.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
