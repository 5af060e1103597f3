"""The code and reset emails written as text read exactly as the EmailMessage composition did."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import formatdate

import pytest

from mfa_harness.fake_smtp.codes import CodeExtractor
from mfa_harness.fake_smtp.mime import summarize
from mfa_harness.server import mail

WALL = 1_763_000_000.25


def reference_message(recipient: str, message_id: str, subject: str, text: str, body: str,
                      wall: float) -> bytes:
    """The composer the portal used before: the reference the direct text must match."""
    msg = EmailMessage()
    msg["From"] = mail.FROM_ADDRESS
    msg["To"] = mail.validate_address(recipient)
    msg["Subject"] = subject
    msg["Date"] = formatdate(wall, usegmt=True)
    msg["Message-ID"] = message_id
    msg.set_content(text)
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return msg.as_bytes()


@pytest.fixture()
def reference(monkeypatch):
    """Build an email with the reference composer (same inputs as the portal's)."""
    def build(fn, *args):
        monkeypatch.setattr(mail, "_message", reference_message)
        try:
            return fn(*args)
        finally:
            monkeypatch.undo()
    return build


def _read(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content_charset(), p.get_content()) for p in msg.iter_parts()]
    return {"Subject": msg["Subject"], "To": msg["To"], "From": msg["From"], "Message-ID": msg["Message-ID"],
            "Date": msg["Date"].datetime, "MIME-Version": msg["MIME-Version"], "parts": parts,
            "defects": [type(d).__name__ for d in msg.defects] + [
                type(d).__name__ for p in msg.iter_parts() for d in p.defects]}


def _summary(raw: bytes, newlines: bool = False) -> dict:
    s = summarize(raw.replace(b"\n", b"\r\n"))      # as it arrives over SMTP
    out = {k: getattr(s, k) for k in ("message_id", "subject", "from_", "to", "date", "text", "snippet",
                                      "attachments")}
    if newlines:
        out["text"] = out["text"].replace("\r\n", "\n")
    return out


CASES = [
    ("alice@example.com", "123456", "R-AB12", "alice", 5),
    ("team+mfa@agency.example.org", "000123", "R-ZZ99", "bob.o'neil", 1),
    ("x@y.example", "987654", "R-0001", "Zoë Ünal 東京 <b>&amp;", 2.5),
    ("long.local.part.for.wrapping.purposes.only@sub.domain.example.com", "424242", "R-" + "W" * 90,
     "u" * 120 + " = trailing ", 10),
]


@pytest.mark.parametrize("recipient,code,ref,username,minutes", CASES)
def test_code_email_reads_like_the_emailmessage_composition(reference, recipient, code, ref, username, minutes):
    mid = mail.new_message_id()
    args = (recipient, mid, code, ref, username, minutes, WALL)
    new, old = mail.code_email(*args), reference(mail.code_email, *args)
    assert _read(new) == _read(old)
    assert _read(new)["defects"] == []
    assert _summary(new) == _summary(old)
    assert CodeExtractor().extract(_summary(new)["text"]) == code
    assert new.isascii() and b"\r" not in new and max(len(line) for line in new.split(b"\n")) <= 78


@pytest.mark.parametrize("username", ["alice", "Zoë " * 40])
def test_reset_email_reads_like_the_emailmessage_composition(reference, username):
    link = "http://127.0.0.1:8000/partner/reset-password?token=" + "Ab0_-" * 20
    args = ("reset@example.com", mail.new_message_id(), link, username, 15, WALL)
    new, old = mail.reset_email(*args), reference(mail.reset_email, *args)
    assert _read(new) == _read(old)
    # mostly non-ASCII text made EmailMessage pick base64, which the inbox reads with "\n" line
    # ends where quoted-printable keeps the wire's CRLF: same text otherwise
    assert _summary(new, newlines=True) == _summary(old, newlines=True)
    assert link in _read(new)["parts"][0][2]


def test_boundary_is_fresh_and_absent_from_the_parts():
    a = mail.code_email("a@b.example", "<1@portal.example>", "111111", "R-1", "--=====", 5, WALL)
    b = mail.code_email("a@b.example", "<1@portal.example>", "111111", "R-1", "--=====", 5, WALL)
    ba = email.message_from_bytes(a).get_boundary()
    assert ba != email.message_from_bytes(b).get_boundary()
    assert a.count(ba.encode()) == 4                 # Content-Type, two delimiters, the close


@pytest.mark.parametrize("recipient", ["a@b.example\r\nBcc: evil@x.example", "a@b.example\nX: y",
                                       "a@b.example\r", "Name <a@b.example>", "a@b.example, c@d.example", ""])
def test_recipient_injection_refused(recipient):
    with pytest.raises(mail.AddressError):
        mail.code_email(recipient, "<1@portal.example>", "111111", "R-1", "alice", 5, WALL)


@pytest.mark.parametrize("message_id", ["<1@portal.example>\r\nBcc: evil@x.example", "<1@p>\nX: y", "<1@p>\r"])
def test_header_injection_refused(message_id):
    with pytest.raises(ValueError):
        mail.code_email("a@b.example", message_id, "111111", "R-1", "alice", 5, WALL)
    with pytest.raises(ValueError):
        mail._message("a@b.example", "<1@portal.example>", "Subject\r\nBcc: e@x.example", "t", "b", WALL)


def test_non_ascii_subject_is_an_encoded_word():
    raw = mail._message("a@b.example", "<1@portal.example>", "Code für Zoë", "t", "<p>b</p>", WALL)
    assert raw.isascii()
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == "Code für Zoë"
