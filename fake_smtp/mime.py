"""MIME parsing: the few fields a summary needs, and the full view on demand.

A stored message keeps only its raw bytes plus what summaries and search need, so memory
per message stays bounded; the full view (Text, HTML, attachments, parts) is parsed again
when asked for.  Header values with raw UTF-8 (SMTPUTF8) come out of the stdlib parser
with surrogate escapes; ``clean`` turns them back into text that JSON can carry.
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from mfa_harness.fake_smtp.mime_limits import Unparseable, needs_worker, parse_bytes
from mfa_harness.fake_smtp.mime_quick import summarize_quick
from mfa_harness.fake_smtp.mime_text import SEARCH_TEXT_CHARS, SNIPPET_CHARS, Summary, clean, html_to_text

__all__ = ["Summary", "clean", "full_view", "headers", "html_to_text", "needs_worker", "part", "summarize"]

_SPACE = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n[ \t]+")


def _parse(raw: bytes, headers_only: bool = False) -> EmailMessage:
    return parse_bytes(raw, policy.default, headers_only)  # type: ignore[return-value]


def _raw_values(msg: Message, name: str) -> list[str]:
    return [clean(v) for k, v in msg.raw_items() if k.lower() == name.lower()]


def _get(msg: EmailMessage, name: str) -> str:
    """A header's text; its raw value when the stdlib header parser crashes on it."""
    try:
        return clean(msg.get(name, ""))
    except Exception:  # noqa: BLE001 - e.g. IndexError from email._header_value_parser on "From:\x80<"
        values = _raw_values(msg, name)
        return values[0] if values else ""


def _addresses(msg: EmailMessage, name: str) -> list[dict[str, str]]:
    try:
        values = msg.get_all(name, []) or []
    except Exception:  # noqa: BLE001 - the stdlib header parser crashes on some malformed values
        return [{"Name": "", "Address": a} for _n, a in getaddresses(_raw_values(msg, name)) if a]
    out: list[dict[str, str]] = []
    for value in values:
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


def _body(msg: EmailMessage, subtype: str) -> EmailMessage | None:
    """``get_body`` for one subtype; None when the stdlib's walk fails on a malformed tree."""
    try:
        return msg.get_body((subtype,))  # type: ignore[return-value]
    except (KeyError, ValueError, AttributeError):
        return None


def _text_and_html(msg: EmailMessage) -> tuple[str, str]:
    text = html_body = ""
    tpart = _body(msg, "plain")
    hpart = _body(msg, "html")
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


def summarize(raw: bytes) -> Summary:
    """Parse ``raw`` into the fields a summary, search and code extraction need.

    Mail with ASCII headers (nearly all) takes the compat32 path, several times faster
    than the modern policy; raw UTF-8 headers (SMTPUTF8) take the full parser.
    """
    end = raw.find(b"\r\n\r\n")
    head = raw[:end] if end >= 0 else raw
    try:
        if head.isascii():
            quick = summarize_quick(raw)
            return quick if quick is not None else _summarize_fast(raw)
        return _summarize_full(raw)
    except Unparseable as exc:
        return _summarize_unparsed(raw, exc.reason)
    except Exception as exc:  # noqa: BLE001 - a message that breaks the summary is still stored
        return _summarize_unparsed(raw, f"MIME summary failed ({type(exc).__name__}); shown unparsed")


def _decode_header(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and "=?" not in value:
        return clean(value)
    try:
        return clean(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeError, HeaderParseError):
        return clean(value)


def _fast_addresses(msg: Message, name: str) -> list[dict[str, str]]:
    values = msg.get_all(name)
    if not values:
        return []
    out = []
    for display, address in getaddresses([str(v) for v in values]):
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


def _raw_body(raw: bytes) -> str:
    """The body of ``raw`` (after the first empty line) as text, for a message kept unparsed."""
    split = re.search(rb"\r?\n\r?\n", raw)
    body = raw[split.end():] if split else b""
    return body.decode("utf-8", "replace")


def _fill_envelope(s: Summary, msg: Any) -> None:
    """The top-level header fields of a summary (ID, subject, addresses, date)."""
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


def _summarize_unparsed(raw: bytes, note: str) -> Summary:
    """Top-level headers and the raw body as text: the summary of a message the parser refused."""
    s = Summary(note=note)
    try:
        msg = parse_bytes(raw, compat32, headers_only=True)
        _fill_envelope(s, msg)
    except Exception:  # noqa: BLE001, S110 - headers are a bonus here; the raw source is kept anyway
        pass
    body = _raw_body(raw)
    s.text = body[:SEARCH_TEXT_CHARS]
    s.snippet = _SPACE.sub(" ", body[:SNIPPET_CHARS * 4]).strip()[:SNIPPET_CHARS]
    return s


def _summarize_fast(raw: bytes) -> Summary:
    msg = parse_bytes(raw, compat32)
    s = Summary()
    _fill_envelope(s, msg)
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
    s.message_id = _get(msg, "Message-ID").strip().strip("<>")
    s.subject = _SPACE.sub(" ", _get(msg, "Subject")).strip()
    froms = _addresses(msg, "From")
    if froms:
        s.from_ = froms[0]
    s.to = _addresses(msg, "To")
    s.cc = _addresses(msg, "Cc")
    s.bcc = _addresses(msg, "Bcc")
    s.reply_to = _addresses(msg, "Reply-To")
    s.date = _get(msg, "Date")
    text, html_body = _text_and_html(msg)
    visible = text or html_to_text(html_body)
    s.text = visible[:SEARCH_TEXT_CHARS]
    s.snippet = _SPACE.sub(" ", visible).strip()[:SNIPPET_CHARS]
    s.attachments = sum(1 for _pid, p in _leaf_parts(msg) if _is_attachment(p))
    tags = _get(msg, "X-Tags")
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
    """Text, HTML, headers and attachment lists of a message (Mailpit ``Message`` fields).

    Never raises: a message the parser refuses (or that breaks the view) comes back with
    its raw body as ``Text`` and the reason in ``Note`` (which is "" for a parsed message).
    """
    try:
        return _full_view(raw)
    except Unparseable as exc:
        return _unparsed_view(raw, exc.reason)
    except Exception as exc:  # noqa: BLE001 - shown raw with a note, never a 500
        return _unparsed_view(raw, f"MIME view failed ({type(exc).__name__}); shown unparsed")


def _unparsed_view(raw: bytes, note: str) -> dict[str, Any]:
    s = _summarize_unparsed(raw, note)
    return {"Text": _raw_body(raw), "HTML": "", "Attachments": [], "Inline": [], "ReturnPath": "",
            "Date": s.date, "Note": note}


def _full_view(raw: bytes) -> dict[str, Any]:
    msg = _parse(raw)
    text, html_body = _text_and_html(msg)
    attachments: list[dict[str, Any]] = []
    inline: list[dict[str, Any]] = []
    for pid, part in _leaf_parts(msg):
        if _is_attachment(part):
            attachments.append(_part_info(pid, part))
        elif part.get_content_disposition() == "inline" and part.get_content_maintype() != "text":
            inline.append(_part_info(pid, part))
    return_path = _get(msg, "Return-Path").strip().strip("<>")
    return {
        "Text": text,
        "HTML": html_body,
        "Attachments": attachments,
        "Inline": inline,
        "ReturnPath": return_path,
        "Date": _get(msg, "Date"),
        "Note": "",
    }


def headers(raw: bytes) -> dict[str, list[str]]:
    """All headers as ``{name: [values]}`` (Mailpit ``/headers``): the top level only, so
    the body is not parsed at all."""
    try:
        msg = _parse(raw, headers_only=True)
    except Unparseable:
        return {}
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        out.setdefault(clean(name), []).append(_FOLD.sub(" ", clean(value)).strip())
    return out


def part(raw: bytes, part_id: str) -> tuple[str, bytes] | None:
    """(content type, decoded bytes) of leaf part ``part_id``, or None (also when unparseable)."""
    try:
        msg = _parse(raw)
    except Unparseable:
        return None
    for pid, p in _leaf_parts(msg):
        if pid == part_id:
            payload = p.get_payload(decode=True)
            if payload is None:
                payload = b""
            return p.get_content_type(), payload
    return None
