"""Adversarial MIME shapes for the parser-limit tests (built, not stored, so sizes stay small)."""

from __future__ import annotations


def nested_multiparts(depth: int, code: str = "123456") -> bytes:
    """A message with ``depth`` multiparts nested one inside the other, a text part at the bottom."""
    out = [b"From: a@x.example\r\nTo: deep@y.example\r\nSubject: deep\r\nMessage-ID: <deep@x>\r\n"]
    for i in range(depth):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\nYour code: " + code.encode() + b"\r\n")
    for i in reversed(range(depth)):
        out.append(b"--b%d--\r\n" % i)
    return b"".join(out)


def many_parts(parts: int, to: str = "many@y.example") -> bytes:
    """One multipart/mixed with ``parts`` small text parts (about 40 bytes each)."""
    out = [b"From: a@x.example\r\nTo: " + to.encode() + b"\r\nSubject: many parts\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n']
    for i in range(parts):
        out.append(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
    out.append(b"--B--\r\n")
    return b"".join(out)
