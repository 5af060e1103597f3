"""MIME parsing: the few fields a summary needs, and the full view on demand.

A stored message keeps only its raw bytes plus what summaries and search need, so memory
per message stays bounded; the full view (Text, HTML, attachments, parts) is parsed again
when asked for.  Header values with raw UTF-8 (SMTPUTF8) come out of the stdlib parser
with surrogate escapes; ``clean`` turns them back into text that JSON can carry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import compat32
from email.utils import getaddresses, unquote
from typing import Any

from fake_smtp.mime_limits import Unparseable, needs_worker, parse_bytes

__all__ = ["Summary", "full_view", "headers", "needs_worker", "part", "summarize"]

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
    note: str = ""  # why the message is kept unparsed ("" when it parsed)


def summarize(raw: bytes) -> Summary:
    """Parse ``raw`` into the fields a summary, search and code extraction need.

    Mail with ASCII headers (nearly all) takes the compat32 path, several times faster
    than the modern policy; raw UTF-8 headers (SMTPUTF8) take the full parser.
    """
    end = raw.find(b"\r\n\r\n")
    head = raw[:end] if end >= 0 else raw
    try:
        if head.isascii():
            quick = _summarize_quick(raw)
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


# -- hand-written fast path ---------------------------------------------------------------
# The common shapes (a single text part, or one level of multipart/alternative with text
# parts) split with a few regexes; anything else returns None and takes the stdlib path.
# Every rule below mirrors what compat32's FeedParser does for that shape.

_HEADER_LINE = re.compile(r"^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*(?:\n[ \t].*)*)", re.MULTILINE)
_ADDR_SPEC = (r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
              r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_MAILBOX = re.compile(rf"[ \t\r\n]*(?:({_ADDR_SPEC})|([A-Za-z0-9 \t\r\n'_-]*?)[ \t\r\n]*<({_ADDR_SPEC})>)[ \t\r\n]*")
_BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,./:=?-]{1,70}")
_PLAIN_CTE = ("", "7bit", "8bit", "binary")
_BARE_CR = re.compile(rb"\r(?!\n)")
_TEXT_TYPES = ("text/plain", "text/html")


def _quick_headers(head: bytes) -> dict[str, list[str]] | None:
    """{lower-case name: [values]} of an ASCII header block (no final line ending), or None
    when a line is neither a header line nor a continuation."""
    if not head or not head.isascii() or head[:1] in (b" ", b"\t"):
        return None
    text = head.decode("ascii")
    found = _HEADER_LINE.findall(text)
    # one match per line that does not start with white space, or some line is not a header
    if len(found) != text.count("\n") + 1 - text.count("\n ") - text.count("\n\t"):
        return None
    out: dict[str, list[str]] = {}
    for name, value in found:
        out.setdefault(name.lower(), []).append(value.rstrip("\r\n"))
    return out


def _split_head(data: bytes) -> tuple[dict[str, list[str]], bytes] | None:
    """(headers, body) of an entity split at its first empty line, or None."""
    if data[:1] == b"\n" or data[:2] == b"\r\n":
        return {}, data[2 if data[:1] == b"\r" else 1:]
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return None
    if lf < 0 or 0 <= crlf < lf:
        head, body = data[:crlf], data[crlf + 3:]
    else:
        head, body = data[:lf], data[lf + 2:]
    hdrs = _quick_headers(head)
    return None if hdrs is None else (hdrs, body)


def _first(hdrs: dict[str, list[str]], name: str) -> str | None:
    values = hdrs.get(name)
    return values[0] if values else None


def _content_type(value: str | None) -> tuple[str, dict[str, str]] | None:
    """(type, params) as compat32's get_content_type/get_param see them, or None if unusual."""
    if value is None:
        return "text/plain", {}
    if "\\" in value or "*" in value:
        return None
    pieces = value.split(";")
    ctype = pieces[0].strip().lower()
    if ctype.count("/") != 1:
        ctype = "text/plain"
    params: dict[str, str] = {}
    for p in pieces[1:]:
        if p.count('"') % 2:
            return None
        name, _eq, val = p.partition("=")
        params.setdefault(name.strip().lower(), unquote(val.strip()))
    return ctype, params


def _quick_text(hdrs: dict[str, list[str]], params: dict[str, str], payload: bytes) -> str | None:
    """Decoded text of a leaf part (compat32 get_payload(decode=True) + charset), or None."""
    cte = _first(hdrs, "content-transfer-encoding")
    cte = "" if cte is None else cte.lower()
    if cte == "quoted-printable":
        data = binascii.a2b_qp(payload)
    elif cte == "base64":
        joined = b"".join(payload.splitlines())
        if len(joined) % 4:
            return None
        try:
            data = base64.b64decode(joined, validate=True)
        except binascii.Error:
            return None
    elif cte in _PLAIN_CTE:
        data = payload
    else:
        return None
    charset = params.get("charset")
    if charset is not None and not charset.isascii():
        charset = None
    charset = charset.lower() if charset else "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _quick_addresses(values: list[str] | None) -> list[dict[str, str]] | None:
    if not values:
        return []
    out = []
    for value in values:
        for piece in value.split(","):
            m = _MAILBOX.fullmatch(piece)
            if m is None:
                return None
            if m.group(1):
                out.append({"Name": "", "Address": m.group(1)})
            else:
                out.append({"Name": " ".join(m.group(2).split()), "Address": m.group(3)})
    return out


_Leaf = tuple[str, dict[str, list[str]], dict[str, str], bytes]


def _delimiters(body: bytes, sep: bytes) -> Iterator[tuple[int, int, bool]]:
    """(line start, line end, is close) of each line matching compat32's boundary regex."""
    pos = 0
    n = len(sep)
    while True:
        i = body.find(sep, pos)
        if i < 0:
            return
        pos = i + 1
        if i and body[i - 1] != 0x0A:
            continue
        j = body.find(b"\n", i + n)
        end = len(body) if j < 0 else j
        tail = body[i + n:end]
        if tail.endswith(b"\r"):
            tail = tail[:-1]
        close = tail.startswith(b"--")
        if close:
            tail = tail[2:]
        if tail.strip(b" \t"):
            continue
        yield i, end, close


def _quick_parts(body: bytes, boundary: str) -> list[_Leaf] | None:
    """Leaf text parts of a one-level multipart body, or None."""
    parts: list[_Leaf] = []
    start = -1
    for line_start, line_end, close in _delimiters(body, b"--" + boundary.encode("ascii")):
        if start >= 0:
            chunk = body[start:line_start]
            if not chunk:
                return None
            split = _split_head(chunk)
            if split is None:
                return None
            hdrs, payload = split
            if payload.endswith(b"\r\n"):
                payload = payload[:-2]
            elif payload.endswith(b"\n"):
                payload = payload[:-1]
            ct = _content_type(_first(hdrs, "content-type"))
            if ct is None or ct[0] not in _TEXT_TYPES or "content-disposition" in hdrs:
                return None
            parts.append((ct[0], hdrs, ct[1], payload))
        elif close:
            return None  # close delimiter before any part
        if close:
            return parts
        if line_end >= len(body):
            return None
        start = line_end + 1
    return None  # no close delimiter


def _summarize_quick(raw: bytes) -> Summary | None:
    """The compat32 summary of a common-shaped message, without the stdlib parser; None otherwise."""
    if _BARE_CR.search(raw):
        return None
    split = _split_head(raw)
    if split is None:
        return None
    hdrs, body = split
    if not hdrs or "content-disposition" in hdrs:
        return None
    subject = _first(hdrs, "subject") or ""
    message_id = _first(hdrs, "message-id") or ""
    date = _first(hdrs, "date") or ""
    tags = _first(hdrs, "x-tags") or ""
    if "=?" in subject or "=?" in message_id or "=?" in date or "=?" in tags:
        return None
    s = Summary()
    froms = _quick_addresses(hdrs.get("from"))
    to = _quick_addresses(hdrs.get("to"))
    cc = _quick_addresses(hdrs.get("cc"))
    bcc = _quick_addresses(hdrs.get("bcc"))
    reply_to = _quick_addresses(hdrs.get("reply-to"))
    if froms is None or to is None or cc is None or bcc is None or reply_to is None:
        return None
    ct = _content_type(_first(hdrs, "content-type"))
    if ct is None:
        return None
    ctype, params = ct
    text: str | None = None
    html_body: str | None = None
    if ctype in _TEXT_TYPES:
        content = _quick_text(hdrs, params, body)
        if content is None:
            return None
        if ctype == "text/plain":
            text = content
        else:
            html_body = content
    elif ctype == "multipart/alternative":
        boundary = params.get("boundary")
        if boundary is None:
            return None
        boundary = unquote(boundary).rstrip()
        if not _BOUNDARY_CHARS.fullmatch(boundary):
            return None
        parts = _quick_parts(body, boundary)
        if parts is None:
            return None
        for ptype, phdrs, pparams, payload in parts:
            is_plain = ptype == "text/plain"
            if is_plain and text is not None or not is_plain and html_body is not None:
                continue
            content = _quick_text(phdrs, pparams, payload)
            if content is None:
                return None
            if is_plain:
                text = content
            else:
                html_body = content
    else:
        return None
    s.message_id = message_id.strip().strip("<>")
    s.subject = " ".join(subject.split())
    if froms:
        s.from_ = froms[0]
    s.to, s.cc, s.bcc, s.reply_to = to, cc, bcc, reply_to
    s.date = date
    visible = text or html_to_text(html_body or "")
    s.text = visible[:SEARCH_TEXT_CHARS]
    s.snippet = " ".join(visible.split())[:SNIPPET_CHARS]
    s.tags = sorted({t.strip() for t in tags.split(",") if t.strip()})
    return s
