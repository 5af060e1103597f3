"""Realistic verification emails: the portal's own template under the headers relays add.

The body is exactly what the portal sends (``mfa_harness.server.mail.code_email``); in front of it go the
transport headers a real message carries by the time it reaches a mailbox (Received chain,
DKIM/ARC signatures, authentication results), which bring it to the ~3 KB the issue asks for.
Messages are made once, before any timing, so the sender spends nothing on composing.
"""

from __future__ import annotations

import base64
import random
import re
import time

from mfa_harness.server.mail import code_email, new_message_id

SENDER = "no-reply@portal.example"


def _b64(rng: random.Random, n: int) -> str:
    return base64.b64encode(rng.randbytes(n)).decode("ascii")


def _fold(value: str, width: int = 76) -> str:
    return "\r\n\t".join(value[i:i + width] for i in range(0, len(value), width))


def transport_headers(rng: random.Random, recipient: str, wall: float) -> bytes:
    """Received chain, DKIM-Signature, ARC set and Authentication-Results (~1.9 KB)."""
    day = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(wall))
    qid = _b64(rng, 9).replace("+", "A").replace("/", "B")
    dom = "mail.example"  # the receiving site, the same for every message
    lines = [
        f"Return-Path: <{SENDER}>",
        f"Delivered-To: {recipient}",
        f"Received: from mx1.{dom} (mx1.{dom} [10.0.3.17])\r\n\tby mailstore.{dom} with LMTP id {qid}\r\n"
        f"\tfor <{recipient}>; {day}",
        f"Received: from out-7.portal.example (out-7.portal.example [192.0.2.45])\r\n\tby mx1.{dom} "
        f"(Postfix) with ESMTPS id {qid[:10]}\r\n\tfor <{recipient}>; {day}",
        f"Received: from portal-app-3.internal (portal-app-3.internal [10.8.0.3])\r\n\tby out-7.portal.example "
        f"with ESMTP id {qid[2:12]}; {day}",
        "DKIM-Signature: " + _fold(f"v=1; a=rsa-sha256; c=relaxed/relaxed; d=portal.example; s=mail2024; "
                                   f"t={int(wall)}; h=from:to:subject:date:message-id:mime-version; "
                                   f"bh={_b64(rng, 32)}; b={_b64(rng, 256)}"),
        "ARC-Seal: " + _fold(f"i=1; a=rsa-sha256; t={int(wall)}; cv=none; d={dom}; s=arc-2024; "
                             f"b={_b64(rng, 192)}"),
        "ARC-Authentication-Results: " + _fold(f"i=1; mx1.{dom}; dkim=pass header.d=portal.example; "
                                               "spf=pass smtp.mailfrom=portal.example; dmarc=pass"),
        f"Authentication-Results: mx1.{dom};\r\n\tdkim=pass header.d=portal.example header.s=mail2024;\r\n"
        "\tspf=pass (sender IP is 192.0.2.45) smtp.mailfrom=portal.example;\r\n\tdmarc=pass action=none",
        "X-Mailer: partner-portal/outbox",
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def verification_email(recipient: str, username: str, rng: random.Random, wall: float | None = None) -> bytes:
    """One ~3 KB verification email for `recipient`, as the portal composes it, with CRLF lines."""
    wall = time.time() if wall is None else wall
    code = f"{rng.randrange(1_000_000):06d}"
    ref = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    body = code_email(recipient, new_message_id(), code, ref, username, 5, wall)
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return transport_headers(rng, recipient, wall) + body


TEMPLATES = 64  # the stdlib composer costs ~8 ms a message: compose a few, then vary their headers
_MSGID = re.compile(rb"^Message-ID: <[^>]*>", re.MULTILINE)


def pool(count: int, recipients: list[str], seed: int = 6) -> list[tuple[str, bytes]]:
    """`count` (recipient, raw) pairs cycling over `recipients`, each with its own Message-ID.

    A few messages come from the portal's composer; the others reuse one of them with the
    recipient (envelope, To, transport headers) and Message-ID replaced, so a pool of 100,000
    costs a second, not minutes.
    """
    rng = random.Random(seed)
    now = time.time()
    templates = []
    for t in range(min(TEMPLATES, count)):
        placeholder = f"tmpl{t}@template.example"
        raw = verification_email(placeholder, f"user{t}@agency.example", rng, now)
        templates.append((placeholder.encode(), raw))
    out = []
    stamp = time.time_ns()
    for i in range(count):
        rcpt = recipients[i % len(recipients)]
        placeholder, raw = templates[i % len(templates)]
        raw = raw.replace(placeholder, rcpt.encode())
        raw = _MSGID.sub(f"Message-ID: <{stamp}.{i}@portal.example>".encode(), raw, count=1)
        out.append((rcpt, raw))
    return out
