"""MIME parsing: the few fields a summary needs, and the full view on demand.

A stored message keeps only its raw bytes plus what summaries and search need, so memory
per message stays bounded; the full view (Text, HTML, attachments, parts) is parsed again
when asked for.  Header values with raw UTF-8 (SMTPUTF8) come out of the stdlib parser
with surrogate escapes; ``clean`` turns them back into text that JSON can carry.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

SNIPPET_CHARS = 250
SEARCH_TEXT_CHARS = 16 * 1024

_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n[ \t]+")


def clean(value: object) -> str:
    """Text of a header value with surrogate escapes decoded as UTF-8."""
    s = str(value) if value is not None else ""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def html_to_text(markup: str) -> str:
    """Crude visible text of an HTML body (for snippets, search and codes)."""
    return html.unescape(_TAGS.sub(" ", markup))


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def _addresses(msg: EmailMessage, name: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for value in msg.get_all(name, []) or []:
        try:
            addrs = value.addresses
        except (AttributeError, TypeError, ValueError):
            addrs = ()
        for a in addrs:
            addr = clean(a.addr_spec) if a.domain else clean(a.username)
            if addr or a.display_name:
                out.append({"Name": clean(a.display_name), "Address": addr})
    return out


def _safe_content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return clean(content)


def _text_and_html(msg: EmailMessage) -> tuple[str, str]:
    text = html_body = ""
    try:
        tpart = msg.get_body(("plain",))
        hpart = msg.get_body(("html",))
    except (KeyError, ValueError, AttributeError):
        tpart = hpart = None
    if tpart is not None:
        text = _safe_content(tpart)
    if hpart is not None:
        html_body = _safe_content(hpart)
    if tpart is None and hpart is None and not msg.is_multipart():
        text = _safe_content(msg)
    return text, html_body


def _leaf_parts(msg: EmailMessage) -> list[tuple[str, EmailMessage]]:
    """Leaf parts with Mailpit-style part ids ("1", "1.2", ...)."""
    out: list[tuple[str, EmailMessage]] = []

    def walk(part: EmailMessage, prefix: str) -> None:
        if part.is_multipart():
            for i, sub in enumerate(part.iter_parts(), 1):
                walk(sub, f"{prefix}.{i}" if prefix else str(i))  # type: ignore[arg-type]
        else:
            out.append((prefix or "1", part))

    walk(msg, "")
    return out


def _is_attachment(part: EmailMessage) -> bool:
    disp = part.get_content_disposition()
    if disp == "attachment":
        return True
    return bool(part.get_filename()) and part.get_content_maintype() not in ("text", "multipart")


@dataclass(slots=True)
class Summary:
    """What the store keeps besides the raw bytes."""

    message_id: str = ""
    subject: str = ""
    from_: dict[str, str] = field(default_factory=lambda: {"Name": "", "Address": ""})
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    bcc: list[dict[str, str]] = field(default_factory=list)
    reply_to: list[dict[str, str]] = field(default_factory=list)
    date: str = ""
    text: str = ""
    snippet: str = ""
    attachments: int = 0
    tags: list[str] = field(default_factory=list)


def summarize(raw: bytes) -> Summary:
    """Parse ``raw`` into the fields a summary, search and code extraction need.

    Mail with ASCII headers (nearly all) takes the compat32 path, several times faster
    than the modern policy; raw UTF-8 headers (SMTPUTF8) take the full parser.
    """
    end = raw.find(b"\r\n\r\n")
    head = raw[:end] if end >= 0 else raw
    if head.isascii():
        return _summarize_fast(raw)
    return _summarize_full(raw)


def _decode_header(value: object) -> str:
    if value is None:
        return ""
    try:
        return clean(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeError, HeaderParseError):
        return clean(value)


def _fast_addresses(msg: Message, name: str) -> list[dict[str, str]]:
    out = []
    for display, address in getaddresses([str(v) for v in msg.get_all(name, [])]):
        if display or address:
            out.append({"Name": _decode_header(display), "Address": address})
    return out


def _decode_payload(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _summarize_fast(raw: bytes) -> Summary:
    msg = BytesParser(policy=compat32).parsebytes(raw)
    s = Summary()
    s.message_id = _decode_header(msg.get("Message-ID")).strip().strip("<>")
    s.subject = _SPACE.sub(" ", _decode_header(msg.get("Subject"))).strip()
    froms = _fast_addresses(msg, "From")
    if froms:
        s.from_ = froms[0]
    s.to = _fast_addresses(msg, "To")
    s.cc = _fast_addresses(msg, "Cc")
    s.bcc = _fast_addresses(msg, "Bcc")
    s.reply_to = _fast_addresses(msg, "Reply-To")
    s.date = _decode_header(msg.get("Date"))
    text: str | None = None
    html_body: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disp = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
        if disp == "attachment" or (part.get_filename() and part.get_content_maintype() not in ("text", "multipart")):
            s.attachments += 1
            continue
        if ctype == "text/plain" and text is None:
            text = _decode_payload(part)
        elif ctype == "text/html" and html_body is None:
            html_body = _decode_payload(part)
    visible = text or html_to_text(html_body or "")
    s.text = visible[:SEARCH_TEXT_CHARS]
    s.snippet = _SPACE.sub(" ", visible).strip()[:SNIPPET_CHARS]
    tags = _decode_header(msg.get("X-Tags"))
    s.tags = sorted({t.strip() for t in tags.split(",") if t.strip()})
    return s


def _summarize_full(raw: bytes) -> Summary:
    msg = _parse(raw)
    s = Summary()
    s.message_id = clean(msg.get("Message-ID", "")).strip().strip("<>")
    s.subject = _SPACE.sub(" ", clean(msg.get("Subject", ""))).strip()
    froms = _addresses(msg, "From")
    if froms:
        s.from_ = froms[0]
    s.to = _addresses(msg, "To")
    s.cc = _addresses(msg, "Cc")
    s.bcc = _addresses(msg, "Bcc")
    s.reply_to = _addresses(msg, "Reply-To")
    s.date = clean(msg.get("Date", ""))
    text, html_body = _text_and_html(msg)
    visible = text or html_to_text(html_body)
    s.text = visible[:SEARCH_TEXT_CHARS]
    s.snippet = _SPACE.sub(" ", visible).strip()[:SNIPPET_CHARS]
    s.attachments = sum(1 for _pid, p in _leaf_parts(msg) if _is_attachment(p))
    tags = clean(msg.get("X-Tags", ""))
    s.tags = sorted({t.strip() for t in tags.split(",") if t.strip()})
    return s


def _part_info(pid: str, part: EmailMessage) -> dict[str, Any]:
    payload = part.get_payload(decode=True) or b""
    return {
        "PartID": pid,
        "FileName": clean(part.get_filename() or ""),
        "ContentType": part.get_content_type(),
        "ContentID": clean(part.get("Content-ID", "")).strip("<>"),
        "Size": len(payload),
        "Checksums": {
            "MD5": hashlib.md5(payload).hexdigest(),  # noqa: S324 - Mailpit field, not security
            "SHA1": hashlib.sha1(payload).hexdigest(),  # noqa: S324
            "SHA256": hashlib.sha256(payload).hexdigest(),
        },
    }


def full_view(raw: bytes) -> dict[str, Any]:
    """Text, HTML, headers and attachment lists of a message (Mailpit ``Message`` fields)."""
    msg = _parse(raw)
    text, html_body = _text_and_html(msg)
    attachments: list[dict[str, Any]] = []
    inline: list[dict[str, Any]] = []
    for pid, part in _leaf_parts(msg):
        if _is_attachment(part):
            attachments.append(_part_info(pid, part))
        elif part.get_content_disposition() == "inline" and part.get_content_maintype() != "text":
            inline.append(_part_info(pid, part))
    return_path = clean(msg.get("Return-Path", "")).strip().strip("<>")
    return {
        "Text": text,
        "HTML": html_body,
        "Attachments": attachments,
        "Inline": inline,
        "ReturnPath": return_path,
        "Date": clean(msg.get("Date", "")),
    }


def headers(raw: bytes) -> dict[str, list[str]]:
    """All headers as ``{name: [values]}`` (Mailpit ``/headers``)."""
    msg = _parse(raw)
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        out.setdefault(clean(name), []).append(_FOLD.sub(" ", clean(value)).strip())
    return out


def part(raw: bytes, part_id: str) -> tuple[str, bytes] | None:
    """(content type, decoded bytes) of leaf part ``part_id``, or None."""
    msg = _parse(raw)
    for pid, p in _leaf_parts(msg):
        if pid == part_id:
            payload = p.get_payload(decode=True)
            if payload is None:
                payload = b""
            return p.get_content_type(), payload
    return None
