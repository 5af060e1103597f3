"""The hand-written summary path agrees with the stdlib (compat32) path, or steps aside."""

from __future__ import annotations

import base64
import random
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import getaddresses

import pytest

from mfa_harness.fake_smtp import mime, mime_quick
from mfa_harness.server.mail import code_email, new_message_id, reset_email

WALL = 1_795_000_000.0


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _portal() -> list[bytes]:
    out = []
    for i in range(5):
        out.append(code_email(f"user{i}@agency.example", new_message_id(), f"{i * 111_111:06d}", "F9SCAK8Z",
                              f"user{i}@agency.example", 5, WALL))
        out.append(reset_email(f"user{i}@agency.example", new_message_id(),
                               f"https://portal.example/reset?t={i}abc", f"user{i}", 30, WALL))
    return out + [_crlf(m) for m in out]


def _simple(headers: str, body: str = "Your code is: 123456\n") -> bytes:
    return _crlf((headers.strip("\n") + "\n\n" + body).encode("utf-8"))


def _alt(text_cte: str, text: bytes, boundary: str = "b1", extra: str = "") -> bytes:
    return _crlf(b"From: a@x.example\nTo: b@y.example\nSubject: s\nMIME-Version: 1.0\n"
                 + f'Content-Type: multipart/alternative; boundary="{boundary}"{extra}\n\n'.encode()
                 + f"preamble\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n".encode()
                 + f"Content-Transfer-Encoding: {text_cte}\n\n".encode() + text
                 + f"\n--{boundary}\nContent-Type: text/html\n\n<p>code 654321</p>\n--{boundary}--\n".encode())


def _with_attachment() -> bytes:
    m = MIMEMultipart()
    m["From"] = "a@x.example"
    m["To"] = "b@y.example"
    m["Subject"] = "report"
    m.attach(MIMEText("see attached, code: 222333"))
    m.attach(MIMEApplication(b"\x00\x01data", Name="r.bin"))
    return m.as_bytes()


def _smtputf8() -> bytes:
    m = EmailMessage()
    m["From"] = "Jörg <jörg@exämple.org>"
    m["To"] = "ünïcode@exämple.org"
    m["Subject"] = "Grüße, code 345678"
    m.set_content("Hallo, dein Code: 345678")
    return m.as_bytes(policy=m.policy.clone(utf8=True))


def _corpus() -> list[bytes]:
    qp_text = b"Your verification code is: 987654=0A=0AIf several people share this inbox, match the=\n reference."
    msgs = _portal() + [
        _simple("From: Partner Portal <no-reply@portal.example>\nTo: a@b.example, C D <c@d.example>\n"
                "Cc: e@f.example\nBcc: g@h.example\nReply-To: Help Desk <help@portal.example>\n"
                "Subject: Your code\nDate: Sun, 29 Nov 2026 06:09:13 +0000\nMessage-ID: <x.1@portal.example>\n"
                "X-Tags: b, a , a"),
        _simple("From: a@b.example\nTo: one@x.example,\n two@x.example,\n\tThree  Person <three@x.example>\n"
                "Subject: folded\n  subject  line\nMessage-ID:\n <folded.id@x.example>"),
        _simple("From: a@b.example\nTo: x@y.example\nTo: z@y.example\nSubject: two To headers"),
        _simple("From: =?utf-8?q?J=C3=B6rg?= <j@x.example>\nTo: a@b.example\nSubject: =?utf-8?b?"
                + base64.b64encode("Grüße code 123456".encode()).decode() + "?="),
        _simple('From: "Smith, John" <j@x.example>\nTo: "q" <q@x.example>\nSubject: quoted'),
        _simple("From: a@b.example\nTo: undisclosed-recipients:;\nSubject: group"),
        _simple("From: a@b.example (comment)\nTo: O'Brien <ob@x.example>\nSubject: comment"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: html only\nContent-Type: text/html",
                "<p>Your code is: <b>445566</b></p>"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: latin1\nContent-Type: text/plain; charset=latin-1\n"
                "Content-Transfer-Encoding: 8bit", "Gr\u00fc\u00dfe 123456"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: bogus charset\n"
                "Content-Type: text/plain; charset=\"x-unknown\"", "code: 111222"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: uue\nContent-Transfer-Encoding: x-uuencode"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: no colon line\nthis is not a header"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: empty body", ""),
        _simple("From: a@b.example\nTo: b@c.example\nContent-Disposition: inline\nSubject: disposition"),
        _simple("From: a@b.example\nTo: b@c.example\nSubject: weird type\nContent-Type: nonsense"),
        b"From: a@b.example\r\nTo: b@c.example\r\nSubject: bare cr\rstill subject\r\n\r\nbody 123456\r\n",
        b"From: a@b.example\nTo: b@c.example\nSubject: lf only\n\nYour code is: 112233\n",
        b"From: a@b.example\r\nTo: b@c.example\r\nSubject: no body",
        b"Subject: 8-bit body\r\nTo: b@c.example\r\n\r\nGr\xc3\xbc\xc3\x9fe, code: 998877\r\n",
        b"Subject: raw 8-bit latin1\r\nTo: b@c.example\r\n\r\nGr\xfc\xdfe 556677\r\n",
        _alt("quoted-printable", qp_text),
        _alt("base64", base64.encodebytes("Grüße, code: 314159\n".encode())),
        _alt("base64", b"bad base64!!"),
        _alt("base64", b"QUJD\nRA"),
        _alt("7bit", b"code: 271828"),
        _alt("8bit", "Grüße code: 161803".encode()),
        _alt("binary", b"code: 141421"),
        _alt("Quoted-Printable", qp_text),
        _alt("7bit", b"code: 271828", boundary="with space"),
        _alt("7bit", b"code: 271828", extra="; charset=utf-8"),
        _alt("7bit", b"--b1 not a boundary\n--b1x\ncode: 1"),
        _alt("7bit", b"code: 1\n--b1 \t\nmore"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\nno headers code 1\n"
              b"--b2\n--b2\nContent-Type: text/plain\n\nsecond\n--b2--\nepilogue\n"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=b3\n\n--b3\nContent-Type: text/plain\n"
              b"\nno close delimiter\n"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative\n\n--b4\n\nmissing boundary\n--b4--\n"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=\"b5\"\n\n--b5\n"
              b"Content-Type: text/plain; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\n"
              b"Gr=FC=DFe 102030\n--b5\nContent-Type: text/plain\n\nsecond plain 405060\n--b5--"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=b6\n\n--b6\nContent-Type: text/html\n\n"
              b"<p>only &amp; html 777888</p>\n--b6--\n"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=b7\n\n--b7\nContent-Type: image/png\n\n"
              b"xx\n--b7--\n"),
        _crlf(b"To: b@y.example\nContent-Type: multipart/alternative; boundary=b8\n\n--b8--\n"),
        _with_attachment(),
        _smtputf8(),
        b"",
        b"\r\n\r\nno headers 123456",
        b" leading: continuation\r\nTo: a@b.example\r\n\r\nbody",
        b"From nobody Mon Jan 1 00:00:00 2024\r\nTo: a@b.example\r\n\r\nbody",
    ]
    rng = random.Random(6)
    atoms = ["a", "b.c", "O'Brien", "x_y", "J.", "Smith", "-", "de la", "  ", "\t", "A1"]
    for _ in range(200):
        names = [" ".join(rng.choice(atoms) for _ in range(rng.randrange(0, 4))) for _ in range(rng.randrange(1, 4))]
        to = ", ".join(f"{n} <u{i}@x{i}.example>" if i % 2 else f"u{i}.v@x.example" for i, n in enumerate(names))
        msgs.append(_simple(f"From: {names[0]} <f@x.example>\nTo: {to}\nSubject: s"))
    return msgs


FIELDS = ("subject", "from_", "to", "cc", "bcc", "reply_to", "message_id", "date", "text", "snippet", "attachments",
          "tags")


@pytest.mark.parametrize("raw", _corpus())
def test_fast_path_matches_stdlib_path(raw: bytes) -> None:
    end = raw.find(b"\r\n\r\n")
    head = raw[:end] if end >= 0 else raw
    expected = mime._summarize_fast(raw) if head.isascii() else mime._summarize_full(raw)
    got = mime.summarize(raw)
    for name in FIELDS:
        assert getattr(got, name) == getattr(expected, name), name
    quick = mime_quick.summarize_quick(raw) if head.isascii() else None
    if quick is not None:
        for name in FIELDS:
            assert getattr(quick, name) == getattr(expected, name), name


def test_portal_emails_take_the_fast_path() -> None:
    for raw in _portal():
        assert mime_quick.summarize_quick(raw) is not None


@pytest.mark.parametrize("raw", [
    _alt("x-uuencode", b"begin"),
    _simple("From: a@b.example\nSubject: =?utf-8?q?x?="),
    _with_attachment(),
    _simple('From: "q" <q@x.example>\nSubject: s'),
])
def test_unusual_messages_fall_back(raw: bytes) -> None:
    assert mime_quick.summarize_quick(raw) is None


def test_address_parser_agrees_with_getaddresses() -> None:
    for raw in _corpus():
        split = mime_quick._split_head(raw)
        if split is None:
            continue
        for name in ("from", "to"):
            values = split[0].get(name)
            quick = mime_quick._quick_addresses(values)
            if quick is not None and values:
                ref = [{"Name": d, "Address": a} for d, a in getaddresses(values) if d or a]
                assert quick == ref
