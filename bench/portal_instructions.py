"""Instructions per complete MFA login of the whole portal process (Tornado, templates, storage, outbox),
counted by callgrind: repeatable on a busy machine, where CPU time per login moves by a third.

Starts an inbox, then the portal (this checkout's, or another checkout's with ``--python
DIR/.venv/bin/python``) under ``valgrind --tool=callgrind`` with the cheap password profile, and
drives complete MFA logins one after the other over HTTP, as a browser would: login page, POST
(303), verify page, the code from the inbox's ``wait``, POST code (303), account page, POST
logout (303), chooser page: 7 portal requests and one SMTP session per login. After ``--warm``
logins the counts are zeroed (``callgrind_control -z``) and dumped after ``--logins`` more.
The idle part (outbox polls, which tick with wall time, and wall time stretches under valgrind
and load) is then measured alone for ``--idle`` seconds: ``per_login_less_idle`` is the figure.
``--no-valgrind`` runs the same driver plainly (a profiler such as py-spy can then attach to
the pid it prints on stderr). SQL statements per login: ``python -m bench.portal_usecases``.

    python -m bench.portal_instructions --logins 60                                     # this checkout
    python -m bench.portal_instructions --logins 60 --python /tmp/old/.venv/bin/python  # another one

Needs valgrind. Not part of the suite. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import procs
from mfa_harness.scenarios.stack import start_child

XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


def _xsrf(html: str) -> str:
    found = XSRF.search(html)
    assert found, html[:500]
    return found.group(1)


class Driver:
    """Complete MFA logins, one at a time, each with a fresh browser (cookies) on one keep-alive connection."""

    def __init__(self, portal_url: str, inbox_url: str) -> None:
        self.portal, self.inbox = portal_url, inbox_url
        accounts = requests.get(portal_url + "/_harness/accounts", timeout=60).json()
        self.accounts = [a for a in accounts if a["program"] != "affiliate" and not a["locked"]]
        self.seq = 0
        self.inbox_http = requests.Session()

    def login(self, i: int) -> None:
        acct = self.accounts[i % len(self.accounts)]
        s = requests.Session()
        page = s.get(self.portal + "/partner/login", timeout=60)
        r = s.post(self.portal + "/partner/login", data={"_xsrf": _xsrf(page.text), "username": acct["username"],
                                                         "password": acct["password"]}, timeout=60)
        assert r.status_code == 200 and "partner-verify" in r.text, (r.status_code, r.text[:300])
        mail = self.inbox_http.get(self.inbox + "/api/v1/wait", params={
            "query": f"to:{acct['notification_email']}", "after": self.seq, "timeout": 60}, timeout=90).json()
        self.seq = max(self.seq, int(mail["Seq"]))
        r = s.post(self.portal + "/partner/verify", data={"_xsrf": _xsrf(r.text), "code": mail["Code"]}, timeout=60)
        assert r.status_code == 200 and "partner-account" in r.text, (r.status_code, r.text[:300])
        r = s.post(self.portal + "/logout", data={"_xsrf": _xsrf(r.text)}, timeout=60)
        assert r.status_code == 200, r.status_code
        s.close()


def _instructions(dump: Path) -> int:
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def _newest(out: Path, pid: int) -> Path:
    return max(out.glob(f"cg.{pid}.*"), key=lambda f: f.stat().st_mtime_ns)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.portal_instructions", description=__doc__.split("\n")[0])
    p.add_argument("--python", default=sys.executable,
                   help="the Python (of another checkout's venv) that runs the portal (default: this one)")
    p.add_argument("--logins", type=int, default=60)
    p.add_argument("--warm", type=int, default=15)
    p.add_argument("--idle", type=float, default=10.0, help="seconds of idle portal measured after the logins")
    p.add_argument("--no-valgrind", action="store_true", help="run the portal plainly (for py-spy)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="portal-instr-"))
    out.mkdir(parents=True, exist_ok=True)
    inbox = procs.inbox_child(out)
    try:
        argv_portal = [args.python, "-m", "mfa_harness.server", "--harness", "--port", "0", "--smtp-port",
                       str(inbox.ready["smtp_port"]), "--partners", "60", "--seed", "1", "--time-scale", "1",
                       "--db", str(out / "portal.db"), "--password-profile", "cheap"]
        if not args.no_valgrind:
            argv_portal = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", *argv_portal]
        portal = start_child("portal", argv_portal, out / "portal.log", timeout=600)
        try:
            drv = Driver(portal.ready["url"], inbox.ready["url"])
            print(json.dumps({"portal_pid": portal.proc.pid}), file=sys.stderr, flush=True)
            for i in range(args.warm):
                drv.login(i)
            pid = portal.proc.pid
            if not args.no_valgrind:
                subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, timeout=300, check=True)
            t0 = time.monotonic()
            for i in range(args.logins):
                drv.login(args.warm + i)
            wall = time.monotonic() - t0
            result = {"python": args.python, "logins": args.logins, "wall_s": round(wall, 1), "pid": pid}
            if not args.no_valgrind:
                subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=300, check=True)
                ir = _instructions(_newest(out, pid))
                # the idle part (outbox polls, timers) ticks with wall time, which valgrind and the
                # machine's load stretch: measured alone for --idle s and taken out
                subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, timeout=300, check=True)
                t1 = time.monotonic()
                time.sleep(args.idle)
                subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=300, check=True)
                idle_rate = _instructions(_newest(out, pid)) / (time.monotonic() - t1)
                result.update(instructions=ir, per_login=round(ir / args.logins), idle_per_s=round(idle_rate),
                              per_login_less_idle=round((ir - idle_rate * wall) / args.logins))
        finally:
            procs.stop_child(portal)
    finally:
        procs.stop_child(inbox)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
