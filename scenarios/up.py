"""`mfa-harness up`: the stack for a person at a browser.

Starts inbox and portal (harness mode, loopback, seeded accounts, SQLite under a run folder),
prints where they are and a few ready credentials, and waits; Ctrl-C stops both cleanly.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

from . import collect
from .stack import LocalStack, StackConfig


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


def credentials_table(portal_url: str, inbox_url: str, accounts: list[dict[str, Any]]) -> str:
    rows = [("role", "username", "password", "codes go to")]
    rows += [(role, a["username"], a["password"], a.get("notification_email") or "-")
             for role, a in pick_credentials(accounts)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = [f"portal  {portal_url}/", f"inbox   {inbox_url}/", ""]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines += ["", "Sign in at the portal, read the code in the inbox page. Ctrl-C stops both."]
    return "\n".join(lines)


def up(*, out: Path, seed: int, partners: int, time_scale: float, bugs: list[str],
       policy_file: Path | None, password_profile: str = "default", portal_port: int = 0,
       inbox_http_port: int = 0, smtp_port: int = 0) -> int:
    """Start the stack and wait for Ctrl-C (0); 1 when a child dies; raises StackError when one cannot start."""
    out.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(StackConfig(out=out, epoch=time.time(), time_scale=time_scale, seed=seed,
                                   partners=partners, bugs=bugs, policy_file=policy_file,
                                   password_profile=password_profile, portal_port=portal_port,
                                   inbox_http_port=inbox_http_port, smtp_port=smtp_port))
    stop = threading.Event()
    old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.start()
        accounts = collect.get_json(stack.portal_url + "/_harness/accounts")
        print(credentials_table(stack.portal_url, stack.inbox_url, accounts), flush=True)
        while not stop.wait(1.0):
            for child in (stack.portal, stack.inbox):
                if child is not None and not child.alive():
                    print(f"{child.name} exited ({child.proc.returncode}); see {child.log_path}", flush=True)
                    return 1
        print("stopping", flush=True)
        return 0
    finally:
        stack.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
