"""Support actions on a portal database: `python -m server admin ACTION ... --db PATH`.

Each action prints one JSON line on success; a bad argument, an unknown partner or a missing
database is one line on stderr and exit 2, with nothing written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .cli import OneLineParser, fail, positive_float


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
