"""Property-based: the MIME parser never raises, and agrees with the stdlib parser when both can read.

Messages are generated as trees (multipart/mixed, alternative, digest, message/rfc822,
text and binary leaves) with random headers, encodings, boundaries and line endings, then
damaged: truncated, bytes flipped, boundaries dropped.  Random bytes are fed too.  For every
input, ``summarize``, ``full_view``, ``headers`` and ``part`` must answer (JSON-serialisable)
and never raise.  When the stdlib parser reads the message too, the hand-written fast path
must give the stdlib path's summary, and the full view, headers and parts must be what the
stdlib's ``email`` package says.  A bounded number of examples keeps it to seconds.
"""

from __future__ import annotations

import base64
import json
import quopri
from email import policy
from email.parser import BytesParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.mime_limits import MAX_DEPTH

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_ascii_word = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._-"), min_size=1, max_size=12)
_address = st.builds(lambda a, b: f"{a}@{b}.example", _ascii_word, _ascii_word)
_header_value = st.one_of(
    _text.map(lambda s: s.replace("\r", " ").replace("\n", " ")),
    _ascii_word.map(lambda w: f"=?utf-8?b?{base64.b64encode(w.encode()).decode()}?="),
    st.sampled_from(["=?bogus?q?x?=", "=?utf-8?q?caf=C3=A9?=", '"quoted \\" name" <a@b.example>', "(comment)",
                     "a@b.example, <c@d.example>", "undisclosed-recipients:;", "x\r\n folded"]),
)
_boundary = st.one_of(_ascii_word, st.just("=_b"), st.just("same"))


def _encode(payload: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(payload)
    if cte == "quoted-printable":
        return quopri.encodestring(payload)
    return payload


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "application/octet-stream", "image/svg+xml",
                                  "text/plain; charset=latin-1", "text/plain; charset=bogus", "text"]))
    cte = draw(st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-unknown"]))
    payload = draw(st.one_of(_text.map(lambda s: s.encode("utf-8")), st.binary(max_size=40)))
    head = f"Content-Type: {ctype}\n"
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\n"
    if draw(st.booleans()):
        head += f'Content-Disposition: {draw(st.sampled_from(["attachment", "inline"]))}; filename="f.bin"\n'
    return head.encode() + b"\n" + _encode(payload, cte)


@st.composite
def entity(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth >= 4 or draw(st.integers(0, 2)) == 0:
        return draw(leaf())
    kind = draw(st.sampled_from(["mixed", "alternative", "digest", "related", "rfc822"]))
    if kind == "rfc822":
        return b"Content-Type: message/rfc822\n\n" + draw(message(depth + 1))
    boundary = draw(_boundary)
    parts = draw(st.lists(entity(depth + 1), max_size=4))
    body = b"preamble\n" + b"".join(b"--" + boundary.encode() + b"\n" + p + b"\n" for p in parts)
    if draw(st.booleans()):
        body += b"--" + boundary.encode() + b"--\n"
    return f'Content-Type: multipart/{kind}; boundary="{boundary}"\n\n'.encode() + body


@st.composite
def message(draw: st.DrawFn, depth: int = 0) -> bytes:
    lines = [f"From: {draw(_header_value)} <{draw(_address)}>", f"To: {draw(_header_value)}",
             f"Subject: {draw(_header_value)}", f"Message-ID: <{draw(_ascii_word)}@x>"]
    if draw(st.booleans()):
        lines.append(f"X-Tags: {draw(_header_value)}")
    head = "\n".join(lines).encode("utf-8") + b"\n"
    return head + draw(entity(depth))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    raw = draw(message())
    if draw(st.booleans()):
        raw = raw.replace(b"\n", b"\r\n")
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["cut", "flip", "cr", "drop-boundary"]))
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        if how == "cut":
            raw = raw[:i]
        elif how == "flip":
            raw = raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1:]
        elif how == "cr":
            raw = raw[:i] + b"\r" + raw[i:]
        else:
            raw = raw.replace(b"\n--", b"\n-", 1)
    return raw


def _nested(depth: int) -> bytes:
    out = [b"Subject: deep\n"]
    for i in range(depth):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i))
    return b"".join(out) + b"Content-Type: text/plain\n\ndeep code: 123456\n"


adversarial = st.one_of(damaged(), message(), st.binary(max_size=300),
                        st.integers(1, 120).map(_nested))


def _stdlib(raw: bytes) -> Any:
    try:
        return BytesParser(policy=policy.default).parsebytes(raw)
    except RecursionError:
        return None                                          # the stdlib cannot read it


def _depth(msg: Any) -> int:
    best, stack = 0, [(msg, 1)]
    while stack:
        m, d = stack.pop()
        best = max(best, d)
        payload = m.get_payload()
        if isinstance(payload, list):
            stack.extend((p, d + 1) for p in payload)
    return best


@SETTINGS
@given(adversarial)
def test_parser_never_raises_and_agrees_with_the_stdlib(raw: bytes) -> None:
    summary = mime.summarize(raw)
    view = mime.full_view(raw)
    hdrs = mime.headers(raw)
    json.dumps([summary.subject, summary.from_, summary.to, summary.snippet, view, hdrs])  # what the API sends
    ref = _stdlib(raw)
    if ref is None or _depth(ref) > MAX_DEPTH:
        assert view["Note"] and summary.note                # refused by us too: kept raw, with a note
        return
    assert view["Note"] == "" and summary.note == ""
    # the fast path and the stdlib path give the same summary
    head = raw[:raw.find(b"\r\n\r\n")] if b"\r\n\r\n" in raw else raw
    expected = mime._summarize_fast(raw) if head.isascii() else mime._summarize_full(raw)
    assert summary == expected
    # headers, parts and the text body are the stdlib's
    assert list(hdrs) == list(dict.fromkeys(mime.clean(k) for k in ref.keys()))
    leaves = [p for p in ref.walk() if not p.is_multipart()]
    for pid, p in mime._leaf_parts(ref):
        got = mime.part(raw, pid)
        assert got is not None and got == (p.get_content_type(), p.get_payload(decode=True) or b"")
    assert mime.part(raw, "0") is None and len(mime._leaf_parts(ref)) == len(leaves)
    try:
        body = ref.get_body(("plain",))
        stdlib_text = body.get_content() if body is not None else None
    except Exception:  # noqa: BLE001 - the stdlib's own view fails on some shapes: nothing to compare
        return
    if isinstance(stdlib_text, str):
        assert view["Text"] == mime.clean(stdlib_text)
