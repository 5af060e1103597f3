"""Command line: `python -m server [options]` runs the portal; `python -m server admin ...` is support.

Invalid options print one line on stderr and exit 2. When ready, the portal prints exactly one
JSON line on stdout: {"ready": "portal", "url": "http://127.0.0.1:PORT", "pid": N}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import bugs as bugmod
from .policy import Policy, PolicyError, load_policy


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0: {text!r}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from exc
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


def server_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m server", description="Reference partner portal with email-code MFA.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8080)
    p.add_argument("--db", default=None, help="SQLite file (default: runs/portal-<time>/portal.db); :memory: allowed")
    p.add_argument("--smtp-host", default="127.0.0.1")
    p.add_argument("--smtp-port", type=port_number, default=1025)
    p.add_argument("--partners", type=non_negative_int, default=20, help="seed this many Faker accounts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-scale", type=positive_float, default=1.0)
    p.add_argument("--epoch", type=float, default=None, help="Unix wall time of scenario time 0 (default: now)")
    p.add_argument("--processes", type=non_negative_int, default=1)
    p.add_argument("--policy", default=None, help="TOML file overriding the MFA policy")
    p.add_argument("--password-profile", choices=("default", "cheap"), default="default")
    p.add_argument("--harness", action="store_true", help="enable /_harness endpoints (loopback only)")
    p.add_argument("--bug", action="append", default=[], metavar="NAME", help="planted bug (harness mode only)")
    p.add_argument("--list-bugs", action="store_true")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def admin_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m server admin", description="Support actions on a portal database.")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("set-notification-email", help="change a partner's notification address")
    s.error = p.error  # type: ignore[method-assign]
    s.add_argument("partner_id", type=int)
    s.add_argument("address")
    s.add_argument("--db", required=True)
    s.add_argument("--time-scale", type=positive_float, default=1.0)
    s.add_argument("--epoch", type=float, default=None)
    return p


def fail(message: str) -> None:
    sys.stderr.write(f"python -m server: error: {message}\n")
    sys.exit(2)


def run_admin(argv: list[str]) -> int:
    args = admin_parser().parse_args(argv)
    from .clock import ScenarioClock
    from .mail import AddressError, validate_address
    from .storage import Store

    if args.db == ":memory:" or not Path(args.db).is_file():
        fail(f"database {args.db} does not exist")
    try:
        address = validate_address(args.address)
    except AddressError as exc:
        fail(f"invalid address: {exc}")
    store = Store(args.db)
    store.attach_clock(ScenarioClock(args.epoch if args.epoch is not None else time.time(), args.time_scale,
                                     store.clock_offset))
    try:
        old = store.partner(args.partner_id)
        if old is None:
            fail(f"no partner with id {args.partner_id}")
        voided = store.set_notification_email(args.partner_id, address)
    finally:
        store.close()
    print(json.dumps({"partner_id": args.partner_id, "old": old["notification_email"], "new": address,
                      "voided": voided}))
    return 0


def default_db() -> str:
    folder = Path("runs") / f"portal-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "portal.db")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["admin"]:
        return run_admin(argv[1:])
    args = server_parser().parse_args(argv)
    if args.list_bugs:
        print(bugmod.describe())
        return 0
    if args.bug and not args.harness:
        fail("--bug needs --harness (planted bugs exist only in harness mode)")
    try:
        bugs = bugmod.validate_bugs(args.bug)
    except ValueError as exc:
        fail(str(exc))
    try:
        policy = load_policy(args.policy) if args.policy else Policy()
    except PolicyError as exc:
        fail(str(exc))
    if args.processes < 1:
        fail("--processes must be >= 1")
    if args.db == ":memory:" and args.processes > 1:
        fail("--db :memory: cannot be shared by several processes; give a file")
    from .runtime import serve

    return serve(args, policy, bugs, args.db or default_db())


if __name__ == "__main__":
    sys.exit(main())
