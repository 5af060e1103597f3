"""The Flask application: Flask-Security-Too's documented SQLAlchemy setup and two small pages.

Configuration is the library's own: SECURITY_TWO_FACTOR with the email method only,
SECURITY_RECOVERABLE for forgot/reset, Flask-Mailman for SMTP to the harness's inbox. With
`required`, SECURITY_TWO_FACTOR_REQUIRED makes every user set up a code; with `per-user` only
the users who have a second factor set up (the seeded partners) are asked for one, which is
what lets affiliates sign in with a password alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, redirect, render_template, url_for
from flask_login import current_user
from flask_mailman import Mail
from flask_security import Security, SQLAlchemyUserDatastore, auth_required
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import generate_csrf

HERE = Path(__file__).parent
db = SQLAlchemy()
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
    pass


class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
    pass


SECRETS = ("secret_key", "password_salt", "totp_secret")


def site_config(db_path: Path, keys: dict[str, str], smtp_host: str, smtp_port: int, two_factor: str,
                code_validity: float | None, fast_hashing: bool) -> dict[str, Any]:
    """Flask config; every SECURITY_* key is a documented Flask-Security-Too setting."""
    conf: dict[str, Any] = dict(
        SECRET_KEY=keys["secret_key"],
        SECURITY_PASSWORD_SALT=keys["password_salt"],
        SECURITY_TOTP_SECRETS={"1": keys["totp_secret"]},
        SECURITY_TOTP_ISSUER="flask-security-site",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path.resolve()}",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 30}},
        SECURITY_TWO_FACTOR=True,
        SECURITY_TWO_FACTOR_ENABLED_METHODS=["email"],
        SECURITY_TWO_FACTOR_REQUIRED=two_factor == "required",
        SECURITY_RECOVERABLE=True,
        # the seeded domains are fictional and the machine is loopback-only: no DNS check of addresses
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
        SECURITY_EMAIL_SENDER="portal@flask-security.example",
        MAIL_SERVER=smtp_host,
        MAIL_PORT=smtp_port,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_TIMEOUT=30,
        MAIL_DEFAULT_SENDER="portal@flask-security.example",
    )
    if fast_hashing:   # the library's own test settings; stock argon2 (64 MiB) costs ~1 s a login here
        conf.update(SECURITY_PASSWORD_HASH="plaintext", SECURITY_HASHING_SCHEMES=["hex_md5"],
                    SECURITY_DEPRECATED_HASHING_SCHEMES=[])
    if code_validity is not None:
        conf["SECURITY_TWO_FACTOR_MAIL_VALIDITY"] = int(code_validity)   # library default 300 s
    return conf


def create_app(config: dict[str, Any]) -> tuple[Flask, Security]:
    app = Flask(__name__, template_folder=str(HERE / "templates"))
    app.config.update(config)
    db.init_app(app)
    Mail(app)
    security = Security(app, SQLAlchemyUserDatastore(db, User, Role))
    app.jinja_env.globals["csrf_token"] = generate_csrf    # our pages' logout form (as CSRFProtect would)

    @app.route("/")
    @auth_required()
    def landing() -> Any:
        """SECURITY_POST_LOGIN_VIEW: partners (second factor set up) to the account, others to /affiliate."""
        return redirect(url_for("account" if current_user.tf_primary_method else "affiliate"))

    @app.route("/account")
    @auth_required()
    def account() -> Any:
        if not current_user.tf_primary_method:
            return redirect(url_for("affiliate"))
        return render_template("account.html")

    @app.route("/affiliate")
    @auth_required()
    def affiliate() -> Any:
        return render_template("affiliate.html")

    @app.route("/healthz")
    def healthz() -> Any:
        return "ok", 200, {"Content-Type": "text/plain"}

    return app, security
