"""Command line: `python -m mfa_harness.server [options]` runs the portal; `python -m mfa_harness.server admin ...` is support.

Invalid options print one line on stderr and exit 2. When ready, the portal prints exactly one
JSON line on stdout: {"ready": "portal", "url": "http://127.0.0.1:PORT", "pid": N}.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mfa_harness.cli_args import epoch, non_negative_int, port, time_scale

from . import bugs as bugmod
from .cli import OneLineParser, fail
from .hosts import PublicUrlError, parse_public_url
from .passwords import argon2_parameters
from .policy import Policy, PolicyError, load_policy
from .population import Mix, MixError, parse_mix, parse_team_size
from .seeding import seed_choice


def server_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m mfa_harness.server", description="Reference partner portal with email-code MFA.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    p.add_argument("--port", type=port, default=8080, help="HTTP port (default 8080; 0: a free one, shown in the ready line)")
    p.add_argument("--db", default=None, help="SQLite file (default: runs/portal-<time>/portal.db); :memory: allowed")
    p.add_argument("--smtp-host", default="127.0.0.1", help="SMTP server the codes are sent through (default 127.0.0.1)")
    p.add_argument("--smtp-port", type=port, default=1025, help="its port (default 1025, the fake_smtp inbox)")
    p.add_argument("--partners", type=non_negative_int, default=20, help="seed this many Faker accounts")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the Faker accounts (harness default 1; without --harness: a generated secret)")
    p.add_argument("--mix", default=None, metavar="PROGRAM=W,...",
                   help="program weights of the seeded accounts (default agency=0.5,reseller=0.3,affiliate=0.2)")
    p.add_argument("--team-size", default=None, metavar="MIN-MAX", help="members per agency team (default 2-4)")
    p.add_argument("--time-scale", type=time_scale, default=1.0,
                   help="scenario seconds per wall second: 30 makes the 5-minute code expiry 10 s (default 1)")
    p.add_argument("--epoch", type=epoch, default=None, help="Unix wall time of scenario time 0 (default: now)")
    p.add_argument("--processes", type=non_negative_int, default=1,
                   help="pre-forked portal processes sharing the port and the SQLite file (default 1)")
    p.add_argument("--policy", default=None, help="TOML file overriding the MFA policy")
    p.add_argument("--password-profile", choices=("default", "cheap"), default="default",
                   help="Argon2 cost: 'default' is the production cost, 'cheap' a fast one for load tests")
    p.add_argument("--public-url", default=None, metavar="URL",
                   help="base of the links in emails, and a Host the portal answers to (default: the listening address)")
    p.add_argument("--harness", action="store_true", help="enable /_harness endpoints (loopback only)")
    p.add_argument("--bug", action="append", default=[], metavar="NAME", help="planted bug (harness mode only)")
    p.add_argument("--list-bugs", action="store_true", help="list the planted bugs and exit")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="stderr log level (default INFO)")
    return p


def default_db() -> str:
    folder = Path("runs") / f"portal-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "portal.db")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["admin"]:
        from .admin import run_admin

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
        argon2_parameters(args.password_profile, policy)  # the profile and the policy's password keys agree
    except PolicyError as exc:
        fail(str(exc))
    try:
        mix = parse_mix(args.mix) if args.mix else Mix()
        args.mix = parse_team_size(args.team_size, mix) if args.team_size else mix
    except MixError as exc:
        fail(f"--mix/--team-size: {exc}")
    if args.public_url is not None:
        try:
            args.public_url = parse_public_url(args.public_url)
        except PublicUrlError as exc:
            fail(str(exc))
    args.seed, args.seed_source = seed_choice(args.seed, args.harness)
    if args.processes < 1:
        fail("--processes must be >= 1")
    if args.db == ":memory:" and args.processes > 1:
        fail("--db :memory: cannot be shared by several processes; give a file")
    from .runtime import serve

    return serve(args, policy, bugs, args.db or default_db())


if __name__ == "__main__":
    sys.exit(main())
