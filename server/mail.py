"""Composition of the portal's emails (verification code, password reset) and address checks."""

from __future__ import annotations

import binascii
import datetime
import html
import random
import re
import time
from email.header import Header
from email.utils import format_datetime, make_msgid

FROM_ADDRESS = "Partner Portal <no-reply@portal.example>"
MSGID_DOMAIN = "portal.example"
CODE_SUBJECT = "Your Partner Portal verification code"
RESET_SUBJECT = "Reset your Partner Portal password"

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


class AddressError(ValueError):
    """An address that must not reach a mail header."""


def validate_address(address: str) -> str:
    """One plain address (local@domain), no display name, no CR/LF, no list; returns it stripped."""
    if not isinstance(address, str):
        raise AddressError("address must be a string")
    if "\r" in address or "\n" in address:
        raise AddressError("address contains CR or LF")
    address = address.strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise AddressError("not a single email address")
    return address


def new_message_id() -> str:
    return make_msgid(domain=MSGID_DOMAIN)


def _wall_text(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(wall))


def code_email(recipient: str, message_id: str, code: str, ref: str, username: str, minutes: float,
               requested_wall: float) -> bytes:
    """The verification email: who asked, when, the reference and how long the code is valid."""
    valid = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    text = (f"Your verification code is: {code}\n\n"
            f"Request reference: {ref}\n"
            f"Requested by: {username}\n"
            f"Requested at: {_wall_text(requested_wall)}\n"
            f"The code is valid for {valid}.\n\n"
            "If several people share this inbox, match the reference with the one shown on your screen.\n")
    e = html.escape
    body = (f"<p>Your verification code is: <strong>{e(code)}</strong></p>"
            f"<p>Request reference: {e(ref)}<br>Requested by: {e(username)}<br>"
            f"Requested at: {e(_wall_text(requested_wall))}</p><p>The code is valid for {e(valid)}.</p>")
    return _message(recipient, message_id, CODE_SUBJECT, text, body, requested_wall)


def reset_email(recipient: str, message_id: str, link: str, username: str, minutes: float, wall: float) -> bytes:
    text = (f"A password reset was requested for {username}.\n\n"
            f"Open this link to choose a new password (valid for {minutes:g} minutes, once):\n{link}\n")
    e = html.escape
    body = (f"<p>A password reset was requested for {e(username)}.</p>"
            f"<p><a href=\"{e(link)}\">Choose a new password</a> (valid for {minutes:g} minutes, once).</p>")
    return _message(recipient, message_id, RESET_SUBJECT, text, body, wall)


def _header_value(name: str, value: str) -> str:
    """A header value as written: no CR/LF (no header injection), non-ASCII as RFC 2047 words."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name}: header values may not contain linefeed or carriage return characters")
    if not value.isascii():
        return Header(value, "utf-8", header_name=name).encode()
    return value


_PART_MIME_VERSION = "MIME-Version: 1.0\n"   # add_alternative wrote it on the HTML part; kept


def _qp_part(content_type: str, content: str, extra: str = "") -> str:
    """One text part, UTF-8, quoted-printable (binascii gives the stdlib's encoding, 76-column lines)."""
    if not content.endswith("\n"):
        content += "\n"
    body = binascii.b2a_qp(content.encode("utf-8"), istext=True).decode("ascii")
    return (f'Content-Type: {content_type}; charset="utf-8"\n'
            f"Content-Transfer-Encoding: quoted-printable\n{extra}\n{body}")


def _message(recipient: str, message_id: str, subject: str, text: str, body: str, wall: float) -> bytes:
    """A multipart/alternative message (text and HTML), written directly as text.

    Same headers, parts and encodings as `email.message.EmailMessage` with `policy.default`
    produced (`set_content` + `add_alternative` + `as_bytes`), at a small fraction of the
    cost. Every header value is checked for CR/LF; the recipient is a validated address.
    """
    to = validate_address(recipient)
    subject = _header_value("Subject", subject)
    message_id = _header_value("Message-ID", message_id)
    date = format_datetime(datetime.datetime.fromtimestamp(wall, datetime.UTC))
    boundary = f"==============={random.randrange(1 << 63):019d}=="
    sep = f"--{boundary}\n"
    html_part = _qp_part("text/html", f"<!doctype html><html><body>{body}</body></html>", _PART_MIME_VERSION)
    # QP output never holds "--=" followed by "=" (every literal "=" is written =3D), so the
    # boundary cannot occur in a part.
    out = (f"From: {FROM_ADDRESS}\nTo: {to}\nSubject: {subject}\nDate: {date}\nMessage-ID: {message_id}\n"
           f'MIME-Version: 1.0\nContent-Type: multipart/alternative;\n boundary="{boundary}"\n\n'
           f"{sep}{_qp_part('text/plain', text)}\n"
           f"{sep}{html_part}\n"
           f"--{boundary}--\n")
    return out.encode("ascii")
