"""The outbox's SMTP sender against `aiosmtplib.send`, side by side, on the real inbox under each
fault it can inject: the same `classify` result and the same inbox history for every case, and
the same message source when accepted (line endings normalised, leading dots stuffed)."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from pathlib import Path

import aiosmtplib
import pytest

from mfa_harness.scenarios.stack import start_child
from mfa_harness.server import smtp_send
from mfa_harness.server.outbox import classify

SENDER = "no-reply@portal.example"
# bare LF, a lone CR, a leading dot, no final newline: what the normalisation and stuffing are for
RAW = (b"From: Portal <no-reply@portal.example>\nTo: {to}\r\nSubject: Your code\r\nMessage-ID: <{mid}@portal.example>"
       b"\r\n\r\nYour verification code is: 123456\n.a line with a leading dot\r\nlone\rcr\n.\nend")
CASES = [
    ("accepted", []),
    ("tempfail connect", [{"kind": "tempfail", "stage": "connect"}]),
    ("permfail connect", [{"kind": "permfail", "stage": "connect"}]),
    ("tempfail mail", [{"kind": "tempfail", "stage": "mail", "message": "try later"}]),
    ("permfail mail", [{"kind": "permfail", "stage": "mail"}]),
    ("tempfail rcpt", [{"kind": "tempfail", "stage": "rcpt", "code": 452}]),
    ("permfail rcpt", [{"kind": "permfail", "stage": "rcpt"}]),
    ("tempfail data", [{"kind": "tempfail", "stage": "data"}]),
    ("permfail data", [{"kind": "permfail", "stage": "data"}]),
    ("rate-limit", [{"kind": "rate-limit", "max": 0, "per": 3600}]),
    ("outage", [{"kind": "outage", "start": -1e8, "end": 1e8}]),
]


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("inbox")
    child = start_child("inbox", [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-host", "127.0.0.1",
                                  "--smtp-port", "0", "--http-host", "127.0.0.1", "--http-port", "0"],
                        Path(out) / "inbox.log", timeout=120)
    try:
        yield child.ready
    finally:
        child.stop(timeout=15.0)


def _http(method: str, url: str, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=30) as r:
        return r.read()


def _history(url: str, after: int = 0) -> list[dict]:
    return [json.loads(x) for x in _http("GET", f"{url}/api/v1/deliveries?after={after}").splitlines() if x]


def _deliveries(url: str, after: int) -> list[dict]:
    """The inbox's history lines after `after`, less what differs between two sends of one case."""
    return [{k: v for k, v in x.items() if k not in ("wall", "st", "seq_event", "seq", "id", "message_id",
                                                      "recipients", "size")} for x in _history(url, after)]


def _send(kind: str, ready: dict, to: str, mid: str) -> tuple:
    raw = RAW.replace(b"{to}", to.encode()).replace(b"{mid}", mid.encode())
    if kind == "aiosmtplib":
        coro = aiosmtplib.send(raw, sender=SENDER, recipients=[to], hostname=ready["smtp_host"],
                               port=ready["smtp_port"], local_hostname="portal.test", timeout=30, start_tls=False,
                               use_tls=False)
    else:
        coro = smtp_send.send(raw, SENDER, to, ready["smtp_host"], ready["smtp_port"], "portal.test", 30)
    try:
        asyncio.run(coro)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return classify(exc)
    return ("sent", 250, "accepted")


@pytest.mark.parametrize("name,rules", CASES, ids=[c[0] for c in CASES])
def test_same_outcome_and_inbox_history_as_aiosmtplib(inbox, name, rules):
    url = inbox["url"]
    _http("PUT", f"{url}/api/v1/faults", {"seed": 1, "rules": rules})
    seen = {}
    for kind in ("aiosmtplib", "smtp_send"):
        to = f"{kind.replace('_', '-')}-{name.replace(' ', '-')}@agency.example"
        after = max((x["seq_event"] for x in _history(url)), default=0)
        result = _send(kind, inbox, to, f"{kind}-{name.replace(' ', '-')}")
        source = b""
        if result[0] == "sent":
            found = json.loads(_http("GET", f"{url}/api/v1/search?query=to:{to}"))["messages"]
            source = _http("GET", f"{url}/api/v1/message/{found[0]['ID']}/raw").replace(kind.encode(), b"X")
            source = source.replace(kind.replace("_", "-").encode(), b"X")
        seen[kind] = (result[:2], _deliveries(url, after), source)
    _http("PUT", f"{url}/api/v1/faults", {"rules": []})
    assert seen["smtp_send"] == seen["aiosmtplib"]
    if name == "accepted":
        # stuffed on the wire, unstuffed by the server: the text as written, with CRLF line endings
        assert seen["smtp_send"][2].endswith(b"\r\n.a line with a leading dot\r\nlone\r\ncr\r\n.\r\nend\r\n")


def test_refused_connection_is_an_error_like_aiosmtplib():
    import socket
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = {"smtp_host": "127.0.0.1", "smtp_port": port}
    lib, ours = _send("aiosmtplib", ready, "a@b.example", "m"), _send("smtp_send", ready, "a@b.example", "m")
    assert lib[:2] == ours[:2] == ("error", None)
    assert ours[2] == lib[2]
