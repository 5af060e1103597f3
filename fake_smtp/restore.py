"""Turning Maildir files back into stored messages at start, one file at a time.

A restart must never fail on one file: ``stored_message`` raises ``BadFile`` (with the
reason) for anything it cannot trust, and the caller moves that file to the quarantine
folder, logs it and carries on.  The metadata line is checked field by field, because a
wrong type would otherwise surface later (a sort on Seq, a JSON answer) as a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mfa_harness.fake_smtp.codes import CodeExtractor
from mfa_harness.fake_smtp.maildir import Loaded
from mfa_harness.fake_smtp.mime import summarize
from mfa_harness.fake_smtp.store import StoredMessage

_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,), "id": (str,), "mail_from": (str,), "received": (int, float), "delivered": (int, float),
    "folder": (str,), "code": (str, type(None)), "until_wall": (int, float), "duplicate": (int, type(None)),
}


class BadFile(ValueError):
    """A Maildir file that cannot be loaded; the message says why."""


def checked_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` when every field we read has the right type; else ``BadFile`` naming the field."""
    for key, types in _TYPES.items():
        if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], types)):
            raise BadFile(f"X-Fake-SMTP-Meta field {key!r} has the wrong type ({type(meta[key]).__name__})")
    for key in ("recipients", "tags"):
        value = meta.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise BadFile(f"X-Fake-SMTP-Meta field {key!r} must be a list of strings")
    if meta.get("folder", "inbox") not in ("inbox", "spam"):
        raise BadFile(f"X-Fake-SMTP-Meta field 'folder' must be inbox or spam, got {meta['folder']!r}")
    if meta.get("seq", 0) < 0:
        raise BadFile("X-Fake-SMTP-Meta field 'seq' is negative")
    return meta


def stored_message(item: Loaded, codes: CodeExtractor, new_id: Callable[[], str],
                   default_received: float = 0.0) -> StoredMessage:
    """The message a Maildir file holds (unparseable MIME is kept raw, with a note)."""
    if item.error:
        raise BadFile(item.error)
    meta = checked_meta(item.meta)
    summary = summarize(item.raw)
    recipients = tuple(meta.get("recipients") or [a["Address"] for a in summary.to])
    code = meta["code"] if "code" in meta else codes.extract(f"{summary.subject}\n{summary.text}")
    received = float(meta.get("received", default_received))
    msg = StoredMessage(id=meta.get("id") or new_id(), raw=item.raw, mail_from=meta.get("mail_from", ""),
                        recipients=recipients, summary=summary, code=code, folder=meta.get("folder", "inbox"),
                        received=received, read=item.read, tags=list(meta.get("tags") or []))
    msg.delivered = float(meta.get("delivered", received))
    return msg
