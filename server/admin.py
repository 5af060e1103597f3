"""Support actions on a portal database: `python -m mfa_harness.server admin ACTION PARTNER_ID ... --db PATH`.

Actions: `set-notification-email PARTNER_ID ADDRESS`, `lock PARTNER_ID`, `unlock PARTNER_ID`.
Each prints one JSON line on success. A bad argument, an unknown partner, a missing file or a
file that is not a portal database is one line on stderr and exit 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from mfa_harness.cli_args import epoch, time_scale

from .cli import OneLineParser, fail
from .storage import Store

SQLITE_INT_MAX = 2 ** 63 - 1


def partner_id_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"partner id must be an integer: {text!r}") from exc
    if not 1 <= value <= SQLITE_INT_MAX:
        raise argparse.ArgumentTypeError(f"partner id out of range: {value}")
    return value


def admin_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m mfa_harness.server admin", description="Support actions on a portal database.")
    sub = p.add_subparsers(dest="action", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help_text)
        s.error = p.error  # type: ignore[method-assign]
        s.add_argument("partner_id", type=partner_id_arg, help="the account's partner id")
        return s

    action("set-notification-email", "change a partner's notification address (voids its unused codes)") \
        .add_argument("address", help="the new notification email address")
    action("lock", "lock a partner out: its logins get the generic failure; pending logins and sessions end")
    action("unlock", "let a locked partner sign in again (also clears its password-failure count)")
    for s in sub.choices.values():
        s.add_argument("--db", required=True, help="the portal's SQLite file")
        s.add_argument("--time-scale", type=time_scale, default=1.0, help="the portal's time scale (default 1)")
        s.add_argument("--epoch", type=epoch, default=None, help="the portal's scenario time 0 (default: now)")
    return p


def portal_db_problem(path: str) -> str | None:
    """Why `path` is not a portal database (read-only look, nothing created), or None."""
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(partners)")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    if not {"id", "locked", "notification_email"} <= columns:
        return "it has no partners table"
    return None


def open_store(args: argparse.Namespace) -> Store:
    """The portal's database, checked before anything could be written to it."""
    from .clock import ScenarioClock

    if args.db == ":memory:" or not Path(args.db).is_file():
        fail(f"database {args.db} does not exist")
    problem = portal_db_problem(args.db)
    if problem:
        fail(f"{args.db} is not a portal database: {problem}")
    try:
        store = Store(args.db)
    except sqlite3.Error as exc:
        fail(f"cannot open database {args.db}: {exc}")
    store.attach_clock(ScenarioClock(args.epoch if args.epoch is not None else time.time(), args.time_scale,
                                     store.clock_offset))
    return store


def set_notification_email(store: Store, args: argparse.Namespace, address: str) -> dict[str, Any]:
    old = store.partner(args.partner_id)
    if old is None:
        fail(f"no partner with id {args.partner_id}")
    voided = store.set_notification_email(args.partner_id, address)
    return {"partner_id": args.partner_id, "old": old.notification_email, "new": address, "voided": voided}


def set_locked(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    try:
        return store.set_locked(args.partner_id, args.action == "lock", "admin")
    except KeyError:
        fail(f"no partner with id {args.partner_id}")


def run_admin(argv: list[str]) -> int:
    args = admin_parser().parse_args(argv)
    address = ""
    if args.action == "set-notification-email":
        from .mail import AddressError, validate_address

        try:
            address = validate_address(args.address)
        except AddressError as exc:
            fail(f"invalid address: {exc}")
    store = open_store(args)
    try:
        if args.action == "set-notification-email":
            result = set_notification_email(store, args, address)
        else:
            result = set_locked(store, args)
    except sqlite3.Error as exc:
        fail(f"database {args.db}: {exc}")
    finally:
        store.close()
    print(json.dumps(result))
    return 0
