"""Composition of the portal's emails (verification code, password reset) and address checks."""

from __future__ import annotations

import html
import re
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

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


def _message(recipient: str, message_id: str, subject: str, text: str, body: str, wall: float) -> bytes:
    msg = EmailMessage()
    msg["From"] = FROM_ADDRESS
    msg["To"] = validate_address(recipient)
    msg["Subject"] = subject
    msg["Date"] = formatdate(wall, usegmt=True)
    msg["Message-ID"] = message_id
    msg.set_content(text)
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return msg.as_bytes()
