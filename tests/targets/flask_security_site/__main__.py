"""`python -m tests.targets.flask_security_site --smtp-port N --db PATH --accounts-out FILE [--port 0]`.

Creates the tables, seeds the accounts (partners with the email second factor set up, affiliates
without one), writes the accounts file and serves the site with waitress on 127.0.0.1.
"""

from __future__ import annotations

import sys

from ..launcher import (
    SeedAccount,
    fail,
    plan_accounts,
    prepare_db,
    serve,
    site_parser,
    site_secrets,
    write_accounts,
)

PROG = "python -m tests.targets.flask_security_site"


def seed(security: object, accounts: list[SeedAccount]) -> None:
    """Create what is missing; an account already in the database is kept as it is (restarts)."""
    from flask_security import hash_password

    from .app import db

    store = security.datastore  # type: ignore[attr-defined]
    for acc in accounts:
        if store.find_user(email=acc.email) is not None:
            continue
        user = store.create_user(email=acc.email, password=hash_password(acc.password), active=True)
        if acc.is_partner:
            store.tf_set(user, "email", totp_secret=security.totp_factory.generate_totp_secret())  # type: ignore[attr-defined]
    db.session.commit()


def main(argv: list[str] | None = None) -> int:
    p = site_parser(PROG, "Flask-Security-Too with email two-factor and recoverable, stock views, on waitress.",
                    affiliates=0)
    p.add_argument("--two-factor", choices=("required", "per-user"), default="required",
                   help="required: SECURITY_TWO_FACTOR_REQUIRED (every user); per-user: only users who set "
                        "it up (partners), so affiliates can sign in (default required)")
    args = p.parse_args(argv)
    if args.affiliates and args.two_factor == "required":
        fail(PROG, "--affiliates needs --two-factor per-user: with SECURITY_TWO_FACTOR_REQUIRED every user "
                   "must set up a second factor, so no account can sign in without a code")
    if args.code_validity is not None and args.code_validity < 1:
        fail(PROG, "--code-validity must be >= 1 (SECURITY_TWO_FACTOR_MAIL_VALIDITY is whole seconds)")
    prepare_db(PROG, args.db)

    from .app import SECRETS, create_app, db, site_config

    keys = site_secrets(PROG, args.db, SECRETS)
    app, security = create_app(site_config(args.db, keys, args.smtp_host, args.smtp_port, args.two_factor,
                                           args.code_validity, args.password_hashing == "fast"))
    accounts = plan_accounts(args.seed, args.partners, args.affiliates, shared_team=False)
    with app.app_context():
        try:
            db.create_all()
        except Exception as exc:  # noqa: BLE001 - a broken or foreign DB file: one line, not a traceback
            fail(PROG, f"--db {args.db}: cannot create the tables: {exc}")
        seed(security, accounts)
    write_accounts(PROG, args.accounts_out, accounts)
    return serve(PROG, "flask-security", app, args, {"two_factor": args.two_factor})


if __name__ == "__main__":
    sys.exit(main())
