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
from aiosmtpd.smtp import SMTP

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


def _raw(to: str, mid: str) -> bytes:
    return RAW.replace(b"{to}", to.encode()).replace(b"{mid}", mid.encode())


async def _outcome(send) -> tuple:
    try:
        await send
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return classify(exc)
    return ("sent", 250, "accepted")


def _start_inbox(out: Path, smtp_port: int = 0):
    return start_child("inbox", [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-host", "127.0.0.1",
                                 "--smtp-port", str(smtp_port), "--http-host", "127.0.0.1", "--http-port", "0"],
                       out / "inbox.log", timeout=120)


OPEN_CONNECTION_CASES = [c for c in CASES if c[0] in ("tempfail connect", "permfail connect", "outage")]


@pytest.mark.parametrize("name,rules", OPEN_CONNECTION_CASES, ids=[c[0] for c in OPEN_CONNECTION_CASES])
def test_fault_starting_on_an_open_session_counts_as_on_a_new_one(inbox, name, rules):
    """A connect-stage fault that starts while the `Sender`'s session is open hits its next mail (at
    MAIL) with the outcome and the inbox history of `aiosmtplib.send` on a new connection; the failed
    session is closed, and the next mail after the fault connects afresh."""
    url, slug = inbox["url"], name.replace(" ", "-")

    async def scenario() -> tuple:
        sender = smtp_send.Sender(inbox["smtp_host"], inbox["smtp_port"], "portal.test", 30)
        to = f"open-{slug}@agency.example"
        assert await _outcome(sender.send(_raw(to, f"open-1-{slug}"), SENDER, to)) == ("sent", 250, "accepted")
        _http("PUT", f"{url}/api/v1/faults", {"seed": 1, "rules": rules})
        after = max(x["seq_event"] for x in _history(url))
        ours = await _outcome(sender.send(_raw(to, f"open-2-{slug}"), SENDER, to))
        ours_history = _deliveries(url, after)
        assert sender.opened == 1                            # the fault met the kept session
        after = max(x["seq_event"] for x in _history(url))
        lib = await _outcome(aiosmtplib.send(_raw(to, f"lib-{slug}"), sender=SENDER, recipients=[to],
                                             hostname=inbox["smtp_host"], port=inbox["smtp_port"],
                                             local_hostname="portal.test", timeout=30, start_tls=False))
        lib_history = _deliveries(url, after)
        _http("PUT", f"{url}/api/v1/faults", {"rules": []})
        assert await _outcome(sender.send(_raw(to, f"open-3-{slug}"), SENDER, to)) == ("sent", 250, "accepted")
        assert (sender.opened, sender.stale) == (2, 0)       # closed after the failure, not found stale
        sender.close()
        return ours[:2], ours_history, lib[:2], lib_history

    ours, ours_history, lib, lib_history = asyncio.run(scenario())
    assert ours == lib and ours_history == lib_history
    assert [x["event"] for x in ours_history] == ["refused"]


def test_restarted_inbox_is_reached_on_a_new_session_with_no_failed_attempt(tmp_path):
    """The inbox stops while the session is idle and starts again on the same port: the next mail
    finds the session closed before MAIL and goes out on a new one (no exception, nothing lost)."""
    first = _start_inbox(tmp_path / "a")
    host, port = first.ready["smtp_host"], first.ready["smtp_port"]
    started = [first]

    async def scenario() -> smtp_send.Sender:
        sender = smtp_send.Sender(host, port, "portal.test", 30)
        await sender.send(_raw("restart@agency.example", "restart-1"), SENDER, "restart@agency.example")
        await asyncio.to_thread(first.stop, 15.0)          # the loop runs meanwhile: it sees the close
        started.append(await asyncio.to_thread(_start_inbox, tmp_path / "b", port))
        await sender.send(_raw("restart@agency.example", "restart-2"), SENDER, "restart@agency.example")
        sender.close()
        return sender

    try:
        sender = asyncio.run(scenario())
        found = json.loads(_http("GET", f"{started[1].ready['url']}/api/v1/search?query=to:restart@agency.example"))
    finally:
        for child in started:
            child.stop(timeout=15.0)
    assert [m["MessageID"] for m in found["messages"]] == ["restart-2@portal.example"]
    assert (sender.opened, sender.stale) == (2, 1)


class _Sessions(SMTP):
    """aiosmtpd that counts its connections and their ends, and with `say_421` ends an idle session
    the way a server with an idle timeout may: an unasked 421, then close."""

    opened = 0
    ended: asyncio.Queue

    def connection_made(self, transport) -> None:
        type(self).opened += 1
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        super().connection_lost(error)
        self.ended.put_nowait(self)

    def say_421(self) -> None:
        assert self.transport is not None
        self.transport.write(b"421 4.4.2 idle too long, closing\r\n")
        self.transport.close()


class _Keep:
    """Handler: accepts every mail and keeps the protocol that took it."""

    def __init__(self) -> None:
        self.by: list[SMTP] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        self.by.append(server)
        return "250 OK"


def test_idle_session_closed_by_the_server_is_replaced_and_idle_ones_are_closed():
    """A server's unasked 421 and close on an idle session: the next mail goes out on a new session
    (found stale, not failed). Sessions idle past `idle_seconds` get QUIT and close, and so do all
    at `close`; a mail after `close` is still sent, on a session closed after it."""

    async def scenario() -> None:
        handler, loop = _Keep(), asyncio.get_running_loop()
        _Sessions.opened, _Sessions.ended = 0, asyncio.Queue()
        server = await loop.create_server(lambda: _Sessions(handler, hostname="sink.local"), "127.0.0.1", 0)
        sender = smtp_send.Sender("127.0.0.1", server.sockets[0].getsockname()[1], "portal.test", 30,
                                  idle_seconds=3600)
        try:
            await sender.send(_raw("a@agency.example", "idle-1"), SENDER, "a@agency.example")
            await sender.send(_raw("a@agency.example", "idle-2"), SENDER, "a@agency.example")
            assert handler.by[0] is handler.by[1] and (sender.opened, _Sessions.opened) == (1, 1)
            handler.by[1].say_421()
            await asyncio.wait_for(_Sessions.ended.get(), 60)
            await sender.send(_raw("a@agency.example", "idle-3"), SENDER, "a@agency.example")
            assert (sender.opened, sender.stale, _Sessions.opened) == (2, 1, 2)
            sender.idle_seconds = 0.0
            sender.close_idle()
            assert await asyncio.wait_for(_Sessions.ended.get(), 60) is handler.by[2]
            await sender.send(_raw("a@agency.example", "idle-4"), SENDER, "a@agency.example")
            sender.close()
            assert await asyncio.wait_for(_Sessions.ended.get(), 60) is handler.by[3]
            await sender.send(_raw("a@agency.example", "idle-5"), SENDER, "a@agency.example")
            assert await asyncio.wait_for(_Sessions.ended.get(), 60) is handler.by[4]
            assert (sender.opened, len(handler.by)) == (4, 5)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
