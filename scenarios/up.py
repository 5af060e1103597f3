"""`mfa-harness up`: the stack for a person at a browser, or for a Locust run of one's own.

Starts inbox and portal (harness mode, loopback, seeded accounts, SQLite under a run folder),
prints where they are, a few ready credentials, how many accounts it seeded and a Locust
command that fits them (its time scale, as many users as there are accounts for), and waits;
Ctrl-C stops both cleanly.
"""

from __future__ import annotations

import math
import shlex
import signal
import threading
import time
from pathlib import Path
from typing import Any

from mfa_harness.loadtests.persona_registry import AFFILIATE_PERSONAS

from .stack import StackConfig
from .targets import LocalTarget

LOCUSTFILE = Path(__file__).resolve().parent.parent / "loadtests" / "locustfile.py"
# The README's "Load tests on their own" example; `up` prints it with its own URLs, time scale and users.
LOCUST_USERS, LOCUST_PERSONAS = 50, {"careful": 3, "hasty": 1, "affiliate": 1}


def locustfile_arg(cwd: Path | None = None) -> str:
    """`loadtests/locustfile.py` when that relative path is this file (a checkout), else the absolute path."""
    rel = Path("loadtests/locustfile.py")
    here = (cwd or Path.cwd()) / rel
    return str(rel) if here.resolve() == LOCUSTFILE else str(LOCUSTFILE)


def users_for(accounts: list[dict[str, Any]], wanted: int = LOCUST_USERS) -> int:
    """How many Locust users (README persona weights) get an account each: at most `wanted`.

    Each persona's share of the users is rounded up (Locust never gives a class fewer), and
    affiliates take affiliate accounts while the others take agency or reseller ones.
    """
    total = sum(LOCUST_PERSONAS.values())
    have = {"affiliate": sum(1 for a in accounts if a.get("program") == "affiliate"),
            "partner": sum(1 for a in accounts if a.get("program") in ("agency", "reseller"))}

    def fits(users: int) -> bool:
        need = {"affiliate": 0, "partner": 0}
        for persona, weight in LOCUST_PERSONAS.items():
            need["affiliate" if persona in AFFILIATE_PERSONAS else "partner"] += math.ceil(users * weight / total)
        return all(need[k] <= have[k] for k in need)

    return next((u for u in range(wanted, 0, -1) if fits(u)), 1)


def locust_command(portal_url: str, inbox_url: str, time_scale: float, users: int, cwd: Path | None = None) -> str:
    """The README's Locust example with this stack's URLs, time scale and a user count its accounts cover."""
    personas = ",".join(f"{p}={w}" for p, w in LOCUST_PERSONAS.items())
    return (f"locust -f {shlex.quote(locustfile_arg(cwd))} --host {portal_url} --inbox-url {inbox_url} \\\n"
            f"  --headless -u {users} -r {min(10, users)} -t 5m --time-scale {time_scale:g} --personas \"{personas}\" \\\n"
            f"  --history-file history.jsonl --summary-file summary.json --threshold \"login_ok.p95 < 60s\"")


def seeded_summary(accounts: list[dict[str, Any]]) -> str:
    """`seeded 100 accounts: 64 agency (23 teams), 20 reseller, 16 affiliate`."""
    by_program = {p: [a for a in accounts if a.get("program") == p] for p in ("agency", "reseller", "affiliate")}
    teams = len({a.get("team") for a in by_program["agency"] if a.get("team")})
    return (f"seeded {len(accounts)} accounts: {len(by_program['agency'])} agency ({teams} teams), "
            f"{len(by_program['reseller'])} reseller, {len(by_program['affiliate'])} affiliate")


def pick_credentials(accounts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """An agency pair sharing one inbox, a reseller and an affiliate, when the seed has them."""
    picked: list[tuple[str, dict[str, Any]]] = []
    teams: dict[str, list[dict[str, Any]]] = {}
    for acc in accounts:
        if acc.get("program") == "agency" and acc.get("team"):
            teams.setdefault(str(acc["team"]), []).append(acc)
    pair = next((members for members in teams.values() if len(members) >= 2), [])
    picked += [("agency (shared inbox)", a) for a in pair[:2]]
    for program in ("reseller", "affiliate"):
        acc = next((a for a in accounts if a.get("program") == program), None)
        if acc:
            picked.append((program, acc))
    return picked


def credentials_table(portal_url: str, inbox_url: str, accounts: list[dict[str, Any]],
                      time_scale: float = 1.0, password_profile: str = "cheap") -> str:
    """What `up` prints: URLs, credentials, the seeded accounts and a Locust command for them."""
    rows = [("role", "username", "password", "codes go to")]
    rows += [(role, a["username"], a["password"], a.get("notification_email") or "-")
             for role, a in pick_credentials(accounts)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = [f"portal  {portal_url}/", f"inbox   {inbox_url}/", ""]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines += ["", f"{seeded_summary(accounts)}; time scale x{time_scale:g}, password profile {password_profile}",
              "", "Load test this stack with Locust (each user takes its own account):",
              locust_command(portal_url, inbox_url, time_scale, users_for(accounts))]
    lines += ["", "Sign in at the portal, read the code in the inbox page. Ctrl-C stops both."]
    return "\n".join(lines)


def up(*, out: Path, seed: int, partners: int, time_scale: float, bugs: list[str],
       policy_file: Path | None, password_profile: str = "cheap", processes: int = 1, portal_port: int = 0,
       inbox_http_port: int = 0, smtp_port: int = 0) -> int:
    """Start the stack and wait for Ctrl-C (0); 1 when a child dies; raises StartError when one cannot start."""
    out.mkdir(parents=True, exist_ok=True)
    target = LocalTarget(StackConfig(out=out, epoch=time.time(), time_scale=time_scale, seed=seed,
                                     partners=partners, bugs=bugs, policy_file=policy_file,
                                     password_profile=password_profile, processes=processes, portal_port=portal_port,
                                     inbox_http_port=inbox_http_port, smtp_port=smtp_port))
    stop = threading.Event()
    old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        target.start()
        print(credentials_table(target.portal_url, target.inbox_url, target.accounts, time_scale, password_profile),
              flush=True)
        while not stop.wait(1.0):
            for child in (target.stack.portal, target.stack.inbox):
                if child is not None and not child.alive():
                    print(f"{child.name} exited ({child.proc.returncode}); see {child.log_path}", flush=True)
                    return 1
        print("stopping", flush=True)
        return 0
    finally:
        target.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
