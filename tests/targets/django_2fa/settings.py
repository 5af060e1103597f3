"""Django settings of the site, built from the launcher's options (no settings file on disk).

Everything is what `django-admin startproject` and django-two-factor-auth's installation guide
say, plus the three things a test site needs: SQLite in the run folder, SMTP to the harness's
inbox and the code lifetime and cooldown as options. Nothing here adapts the library to the harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def site_settings(db: Path, secret_key: str, smtp_host: str, smtp_port: int, code_validity: float | None,
                  cooldown: float | None, throttle_factor: float | None, fast_hashing: bool) -> dict[str, Any]:
    """Keyword arguments for `django.conf.settings.configure`."""
    extra: dict[str, Any] = {}
    if fast_hashing:   # Django's docs, "Speeding up the tests"; the stock PBKDF2 costs ~0.35 s a login
        extra["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if code_validity is not None:
        extra["OTP_EMAIL_TOKEN_VALIDITY"] = code_validity    # library default 300 s
    if cooldown is not None:
        extra["OTP_EMAIL_COOLDOWN_DURATION"] = cooldown      # library default 60 s
    if throttle_factor is not None:
        extra["OTP_EMAIL_THROTTLE_FACTOR"] = throttle_factor  # library default 1 (1, 2, 4, ... s)
    return dict(
        DEBUG=False,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.targets.django_2fa.urls",
        INSTALLED_APPS=[
            "django.contrib.admin",          # ships the stock registration/* password-reset templates
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django_otp",
            "django_otp.plugins.otp_static",
            "django_otp.plugins.otp_totp",
            "django_otp.plugins.otp_email",
            "two_factor",
            "two_factor.plugins.email",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django_otp.middleware.OTPMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [HERE / "templates"],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(db),
            # several waitress threads write: WAL, a busy timeout and IMMEDIATE transactions
            # (Django's documented SQLite settings for concurrency) instead of "database is locked"
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }},
        AUTH_PASSWORD_VALIDATORS=[{"NAME": f"django.contrib.auth.password_validation.{name}"} for name in (
            "UserAttributeSimilarityValidator", "MinimumLengthValidator",
            "CommonPasswordValidator", "NumericPasswordValidator")],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        STATIC_URL="static/",
        LOGIN_URL="two_factor:login",
        LOGIN_REDIRECT_URL="landing",
        LOGOUT_REDIRECT_URL="two_factor:login",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=smtp_host,
        EMAIL_PORT=smtp_port,
        EMAIL_TIMEOUT=30,
        DEFAULT_FROM_EMAIL="portal@django-2fa.example",
        LOGGING={"version": 1, "disable_existing_loggers": False,
                 "handlers": {"stderr": {"class": "logging.StreamHandler"}},
                 "root": {"handlers": ["stderr"], "level": "WARNING"}},
        **extra,
    )
