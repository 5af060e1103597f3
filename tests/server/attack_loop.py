"""Measure what an attacker who has a victim's password gets from a real portal (issue 13, item 2).

    .venv/bin/python tests/server/attack_loop.py --profile default --hours 3 --time-scale 600

Starts an SMTP sink and a real portal (`--harness`, the given argon2 profile and time scale),
then, for a bounded number of scenario hours, runs one attack as fast as the portal answers:

- `guess`: sign in, enter wrong codes until the challenge dies, sign in again (code guessing);
- `bomb`: sign in and press "send another code" whenever allowed (mail bombing, no guessing).

It prints one JSON line per mode: codes checked per scenario hour (every verify the portal
decided on the code: wrong, too_many by attempts, ok) and code emails the victim's address
received per scenario hour. The loop stops by itself at the end of the time budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from portal_testkit import Browser, Sink, reason_of, start_portal  # noqa: E402


def attack(portal, acct: dict, mode: str, wall_budget: float) -> None:
    """Run one attack loop until `wall_budget` wall seconds pass."""
    deadline = time.monotonic() + wall_budget
    while time.monotonic() < deadline:
        b = Browser(portal.url)
        r = b.login(acct["username"], acct["password"])
        if r.status_code == 429:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            continue
        while time.monotonic() < deadline:
            if mode == "guess":
                if reason_of(b.verify("000000")) != "wrong":
                    break
            else:
                r = b.post("/partner/verify/resend", {}, xsrf_from="/partner/verify")
                if r.status_code == 429 and "No more codes" in r.text:
                    break
                if r.status_code == 429:
                    time.sleep(0.02)
                elif r.status_code >= 400:
                    break


def measure(profile: str, scale: float, hours: float, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sink = Sink()
        portal = start_portal(Path(tmp), sink.port, "--time-scale", str(scale), "--password-profile", profile,
                              partners=6)
        try:
            acct = portal.accounts("reseller")[0]
            start_st = requests_clock(portal)
            attack(portal, acct, mode, hours * 3600.0 / scale)
            elapsed_h = (requests_clock(portal) - start_st) / 3600.0
            events = portal.events()
            checked = [e for e in events if (e["event"] == "verify_fail" and "cap" not in e
                                             and e["reason"] in ("wrong", "too_many")) or e["event"] == "verify_ok"]
            issued = [e for e in events if e["event"] == "code_issued" and e["partner_id"] == acct["partner_id"]]
            delivered = sum(1 for m in sink.handler.messages
                            if m["To"] == acct["notification_email"] and "verification code" in m["Subject"])
            refused = [e for e in events if e["event"] == "login_failed"]
        finally:
            portal.stop()
            sink.close()
    return {"mode": mode, "profile": profile, "time_scale": scale, "scenario_hours": round(elapsed_h, 3),
            "codes_checked": len(checked), "codes_checked_per_hour": round(len(checked) / elapsed_h, 1),
            "codes_issued": len(issued), "emails_delivered": delivered,
            "emails_per_hour": round(delivered / elapsed_h, 1), "logins_refused": len(refused)}


def requests_clock(portal) -> float:
    import requests

    return float(requests.get(portal.url + "/_harness/clock", timeout=30).json()["st"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=("default", "cheap"), default="default")
    p.add_argument("--time-scale", type=float, default=600.0)
    p.add_argument("--hours", type=float, default=3.0, help="scenario hours of attack (bounded)")
    p.add_argument("--mode", choices=("guess", "bomb", "both"), default="both")
    args = p.parse_args()
    for mode in ("guess", "bomb") if args.mode == "both" else (args.mode,):
        print(json.dumps(measure(args.profile, args.time_scale, args.hours, mode)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
