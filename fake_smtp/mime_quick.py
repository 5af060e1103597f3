"""The hand-written fast path of the MIME summary.

The common shapes (a single text part, or one level of multipart/alternative with text
parts) split with a few regexes; anything else returns None and takes the stdlib path in
``mime``.  Every rule below mirrors what compat32's FeedParser does for that shape (the
hypothesis test in tests/fake_smtp compares the two on generated messages).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from email.utils import unquote

from mfa_harness.fake_smtp.mime_text import SEARCH_TEXT_CHARS, SNIPPET_CHARS, Summary, html_to_text

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


def summarize_quick(raw: bytes) -> Summary | None:
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
    addresses = [_quick_addresses(hdrs.get(name)) for name in ("from", "to", "cc", "bcc", "reply-to")]
    if any(a is None for a in addresses):
        return None
    bodies = _quick_bodies(hdrs, body)
    if bodies is None:
        return None
    text, html_body = bodies
    s = Summary()
    s.message_id = message_id.strip().strip("<>")
    s.subject = " ".join(subject.split())
    froms, s.to, s.cc, s.bcc, s.reply_to = addresses  # type: ignore[assignment]
    if froms:
        s.from_ = froms[0]
    s.date = date
    visible = text or html_to_text(html_body or "")
    s.text = visible[:SEARCH_TEXT_CHARS]
    s.snippet = " ".join(visible.split())[:SNIPPET_CHARS]
    s.tags = sorted({t.strip() for t in tags.split(",") if t.strip()})
    return s


def _quick_bodies(hdrs: dict[str, list[str]], body: bytes) -> tuple[str | None, str | None] | None:
    """(first text/plain, first text/html) of a single text part or one multipart/alternative
    level of text parts; None for any other shape."""
    ct = _content_type(_first(hdrs, "content-type"))
    if ct is None:
        return None
    ctype, params = ct
    if ctype in _TEXT_TYPES:
        content = _quick_text(hdrs, params, body)
        if content is None:
            return None
        return (content, None) if ctype == "text/plain" else (None, content)
    if ctype != "multipart/alternative":
        return None
    boundary = params.get("boundary")
    if boundary is None:
        return None
    boundary = unquote(boundary).rstrip()
    if not _BOUNDARY_CHARS.fullmatch(boundary):
        return None
    parts = _quick_parts(body, boundary)
    if parts is None:
        return None
    text: str | None = None
    html_body: str | None = None
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
    return text, html_body
