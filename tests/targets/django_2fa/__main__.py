"""`python -m tests.targets.django_2fa --smtp-port N --db PATH --accounts-out FILE [--port 0]`.

Migrates the SQLite file, seeds the accounts (partners get a confirmed django-otp email device,
affiliates none), writes the accounts file and serves the site with waitress on 127.0.0.1.
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

PROG = "python -m tests.targets.django_2fa"


def seed(accounts: list[SeedAccount]) -> None:
    """Create what is missing; an account already in the database is kept as it is (restarts)."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_email.models import EmailDevice

    users = get_user_model()
    for acc in accounts:
        if users.objects.filter(username=acc.username).exists():
            continue
        user = users.objects.create_user(username=acc.username, email=acc.email, password=acc.password)
        if acc.is_partner:
            # the device's own address is django-otp's "alternative email address to send tokens
            # to": team members share it; a solo partner's codes go to user.email (None here)
            other = acc.notification_email if acc.notification_email != acc.email else None
            EmailDevice.objects.create(user=user, name="default", confirmed=True, email=other)


def main(argv: list[str] | None = None) -> int:
    p = site_parser(PROG, "django-two-factor-auth + django-otp email device, stock views, on waitress.")
    p.add_argument("--cooldown", type=float, default=None, metavar="SECONDS",
                   help="OTP_EMAIL_COOLDOWN_DURATION (library default 60)")
    p.add_argument("--throttle-factor", type=float, default=None,
                   help="OTP_EMAIL_THROTTLE_FACTOR (library default 1; 0 disables the back-off)")
    p.add_argument("--login-timeout", type=int, default=None, metavar="SECONDS",
                   help="TWO_FACTOR_LOGIN_TIMEOUT, the pending login's lifetime (library default 600)")
    args = p.parse_args(argv)
    for name in ("cooldown", "throttle_factor"):
        value = getattr(args, name)
        if value is not None and value < 0:
            fail(PROG, f"--{name.replace('_', '-')} must be >= 0")
    prepare_db(PROG, args.db)

    import django
    from django.conf import settings
    from django.core.management import call_command

    from .settings import site_settings

    secret_key = site_secrets(PROG, args.db, ("secret_key",))["secret_key"]
    conf = site_settings(args.db, secret_key, args.smtp_host, args.smtp_port, args.code_validity, args.cooldown,
                         args.throttle_factor, args.password_hashing == "fast")
    if args.login_timeout is not None:
        conf["TWO_FACTOR_LOGIN_TIMEOUT"] = args.login_timeout
    settings.configure(**conf)
    django.setup()
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except Exception as exc:  # noqa: BLE001 - a broken or foreign DB file: one line, not a traceback
        fail(PROG, f"--db {args.db}: cannot migrate: {exc}")
    accounts = plan_accounts(args.seed, args.partners, args.affiliates, shared_team=True)
    seed(accounts)
    write_accounts(PROG, args.accounts_out, accounts)

    from django.core.wsgi import get_wsgi_application

    return serve(PROG, "django-two-factor", get_wsgi_application(), args)


if __name__ == "__main__":
    sys.exit(main())
