"""What every third-party target site shares: options, the seeded accounts, the WSGI server.

Each site (`tests/targets/<site>/`) is a stock library behind a few lines of configuration. The
harness needs the same things from all of them: a free loopback port, SMTP pointed at its inbox,
a SQLite file in a run folder, deterministic accounts written in the harness's accounts-file
format (docs/interfaces.md), and one JSON readiness line on stdout, as `python -m mfa_harness.server` and
`python -m mfa_harness.fake_smtp` print. Knowing this once here keeps each site about its library.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import string
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from mfa_harness.cli_args import non_negative_int, port, positive_float
from mfa_harness.server.cli import OneLineParser

TEAM = "team-a"
TEAM_ADDRESS = "team-a@agency.example"
TEAM_SIZE = 3


@dataclass(frozen=True)
class SeedAccount:
    """One row of the accounts file (the harness reads the first six keys, `email` is extra).

    `email` is the account's own address (the one a password reset is sent to); it differs from
    `notification_email` only for team members whose codes go to the shared team address.
    """

    partner_id: int
    program: str
    username: str
    password: str
    notification_email: str
    team: str | None
    email: str

    @property
    def is_partner(self) -> bool:
        return self.program != "affiliate"


def plan_accounts(seed: int, partners: int, affiliates: int, shared_team: bool) -> list[SeedAccount]:
    """The accounts a site seeds: the same seed gives the same usernames and passwords.

    With `shared_team` the first TEAM_SIZE partners are an agency team whose codes go to one shared
    notification address (only where the library lets the address differ from the login).
    """
    rng = random.Random(seed)
    out: list[SeedAccount] = []
    for n in range(1, partners + 1):
        email = f"partner{n:02d}@partners.example"
        in_team = shared_team and n <= TEAM_SIZE
        out.append(SeedAccount(
            partner_id=n, program="agency" if n % 2 or in_team else "reseller", username=email,
            password=_password(rng), notification_email=TEAM_ADDRESS if in_team else email,
            team=TEAM if in_team else None, email=email))
    for n in range(1, affiliates + 1):
        email = f"affiliate{n:02d}@affiliates.example"
        out.append(SeedAccount(partner_id=partners + n, program="affiliate", username=email,
                               password=_password(rng), notification_email=email, team=None, email=email))
    return out


def _password(rng: random.Random) -> str:
    """Twelve random letters and digits plus a fixed tail: passes Django's stock validators."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12)) + "-Pw7"


def site_parser(prog: str, description: str, partners: int = 8, affiliates: int = 2) -> OneLineParser:
    """The options every site takes; a site adds its own library settings."""
    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    p.add_argument("--smtp-host", default="127.0.0.1")
    p.add_argument("--smtp-port", type=port, required=True, help="the inbox's SMTP port")
    p.add_argument("--db", type=Path, required=True, help="SQLite file (its folder is created)")
    p.add_argument("--accounts-out", type=Path, required=True, help="write the seeded accounts here (JSON)")
    p.add_argument("--seed", type=int, default=1, help="seed of the accounts' passwords")
    p.add_argument("--partners", type=non_negative_int, default=partners)
    p.add_argument("--affiliates", type=non_negative_int, default=affiliates)
    p.add_argument("--code-validity", type=positive_float, default=None, metavar="SECONDS",
                   help="the library's code lifetime setting (default: the library's own)")
    p.add_argument("--password-hashing", choices=("stock", "fast"), default="stock",
                   help="stock: the library's default hasher; fast: the cheap hasher its docs suggest for tests")
    p.add_argument("--threads", type=non_negative_int, default=8, help="waitress worker threads")
    return p


def fail(prog: str, message: str) -> NoReturn:
    """One line on stderr, exit 2: the project's rule for errors a user can cause."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(2)


def prepare_db(prog: str, db: Path) -> None:
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(prog, f"--db {db}: cannot create its folder: {exc.strerror or exc}")


def site_secrets(prog: str, db: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Secret keys kept beside the database, so a restarted site still knows its users.

    Flask-Security hashes passwords with SECURITY_PASSWORD_SALT and encrypts each user's TOTP
    secret with SECURITY_TOTP_SECRETS; Django signs reset tokens with SECRET_KEY. Fresh keys on
    every start would lock every seeded account out after a restart (`kill -9` scenarios).
    """
    path = db.with_name(db.name + ".secrets.json")
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        fail(prog, f"{path}: unreadable site secrets ({exc}); remove it together with the database")
    missing = [n for n in names if not isinstance(known.get(n), str)]
    if missing:
        known.update({n: secrets.token_urlsafe(32) for n in missing})
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(known) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return {n: known[n] for n in names}


def write_accounts(prog: str, path: Path, accounts: list[SeedAccount]) -> None:
    """The accounts file, written whole (a reader never sees half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps([asdict(a) for a in accounts], indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        fail(prog, f"--accounts-out {path}: {exc.strerror or exc}")


def serve(prog: str, site: str, app: Callable[..., Any], args: argparse.Namespace,
          extra_ready: dict[str, Any] | None = None) -> int:
    """Serve `app` with waitress (threads: concurrent requests) until SIGTERM/SIGINT; exit 0.

    The readiness line comes only once the socket listens, so a client may connect at once.
    """
    from waitress.server import create_server

    try:
        server = create_server(app, host="127.0.0.1", port=args.port, threads=max(1, args.threads),
                               ident=site, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        fail(prog, f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}")

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready = {"ready": "target", "site": site, "url": f"http://127.0.0.1:{server.effective_port}",
             "pid": os.getpid(), "accounts": str(args.accounts_out), **(extra_ready or {})}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        server.close()
    return 0
