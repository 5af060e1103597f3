"""SMTP sessions: several transactions per connection (RSET, MAIL after MAIL), protocols made
per connection by cloning one prototype, and the EHLO reply written whole."""

from __future__ import annotations

import asyncio
import smtplib
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiosmtplib
from fake_smtp_helpers import InboxProcess

from mfa_harness.fake_smtp.app import Config, build_inbox
from mfa_harness.fake_smtp.smtp_handler import InboxHandler, InboxSMTP


def _search(inbox: InboxProcess, query: str) -> list[dict[str, Any]]:
    return inbox.get_json("/api/v1/search?" + urllib.parse.urlencode({"query": query}))["messages"]


def _mail(to: list[str], subject: str, code: str) -> bytes:
    return (f"From: p@example.org\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n\r\n"
            f"Your verification code is: {code}\r\n").encode()


def test_several_transactions_in_one_session(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    """RSET drops a transaction; each MAIL starts an envelope of its own (RFC 5321 3.3), after a
    refused RCPT too; the session ends with QUIT and nothing leaks from one message to the next."""
    x = [addr("multi") for _ in range(6)]
    inbox.put_faults([{"kind": "tempfail", "stage": "rcpt", "to": x[5]}])
    after = inbox.last_event()
    with inbox.smtp() as s:
        assert s.ehlo()[0] == 250
        assert s.mail("a@example.org")[0] == 250 and s.rcpt(x[0])[0] == 250
        assert s.rset()[0] == 250                          # dropped: x[0] gets nothing
        assert s.mail("b@example.org")[0] == 250
        assert s.rcpt(x[1])[0] == 250 and s.rcpt(x[2])[0] == 250
        assert s.data(_mail([x[1], x[2]], "first", "111111"))[0] == 250
        assert s.mail("c@example.org")[0] == 250           # no RSET after DATA
        assert s.mail("again@example.org")[0] == 503       # a nested MAIL is refused
        assert s.rcpt(x[3])[0] == 250
        assert s.data(_mail([x[3]], "second", "222222"))[0] == 250
        assert s.mail("d@example.org")[0] == 250
        assert s.rcpt(x[5])[0] == 451                      # refused by the fault plan
        assert s.rcpt(x[4])[0] == 250
        assert s.data(_mail([x[4], x[5]], "third", "333333"))[0] == 250
    assert _search(inbox, f"to:{x[0]}") == []
    first, second, third = (_search(inbox, f"subject:{n} to:{x[i]}") for n, i in
                            (("first", 1), ("second", 3), ("third", 4)))
    assert [len(first), len(second), len(third)] == [1, 1, 1]
    full = {m["Subject"]: inbox.get_json(f"/api/v1/message/{m['ID']}") for m in first + second + third}
    assert full["first"]["Recipients"] == [x[1], x[2]] and full["first"]["ReturnPath"] == "b@example.org"
    assert full["second"]["Recipients"] == [x[3]] and full["second"]["ReturnPath"] == "c@example.org"
    assert full["third"]["Recipients"] == [x[4]] and full["third"]["ReturnPath"] == "d@example.org"
    assert [m["Code"] for m in first + second + third] == ["111111", "222222", "333333"]
    received = [line for line in inbox.deliveries(after) if line["event"] == "received"]
    assert [line["recipients"] for line in received] == [[x[1], x[2]], [x[3]], [x[4]]]


def test_connections_share_one_prototype_not_its_state() -> None:
    """aiosmtpd's __init__ (dir() and inspect.getmembers() on every connection) runs once;
    each connection's protocol is a clone with the state a fresh __init__ gives, sharing no
    per-connection object with another clone, and concurrent sessions deliver their own mail."""
    inits = []

    class Counting(InboxSMTP):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            inits.append(1)
            super().__init__(*args, **kwargs)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        inbox = build_inbox(Config())
        handler = InboxHandler(inbox, 100)
        kw: dict[str, Any] = {"data_size_limit": 10_000, "enable_SMTPUTF8": True, "decode_data": False,
                              "hostname": "fake-smtp.localhost", "ident": "fake_smtp ESMTP", "loop": loop}
        make = Counting.factory(handler, **kw)
        a, b, fresh = make(), make(), InboxSMTP(handler, **kw)
        assert set(vars(a)) == set(vars(b)) == set(vars(fresh))
        for k, v in vars(a).items():
            if v is vars(b)[k] and not isinstance(v, str | int | float | bool | tuple | frozenset | type(None)):
                assert k in ("loop", "_loop", "event_handler", "inbox_handler", "_auth_callback"), k
            if isinstance(v, dict):
                assert [getattr(m, "__self__", None) is a for m in v.values()] == \
                    [getattr(m, "__self__", None) is fresh for m in vars(fresh)[k].values()], k
        assert a._smtp_methods["MAIL"].__self__ is a and a._client_connected_cb.__self__ is a
        server = await loop.create_server(make, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async def send(n: int) -> None:
                rcpt = f"clone-{n}@example.com"
                await aiosmtplib.send(_mail([rcpt], f"s{n}", f"{n:06d}"), sender="p@example.org",
                                      recipients=[rcpt], hostname="127.0.0.1", port=port, timeout=30)

            await asyncio.gather(*(send(n) for n in range(1, 6)))
        finally:
            server.close()
            await server.wait_closed()
        codes = sorted(m.code or "" for m in inbox.store.select(None))
        assert codes == [f"{n:06d}" for n in range(1, 6)]
        assert len(inits) == 1

    asyncio.run(scenario())


def test_ehlo_reply_is_aiosmtpds_written_once() -> None:
    """The EHLO reply has aiosmtpd's own lines and keywords, sent in one write, not one per line."""
    pushed: list[str] = []

    class Recording(InboxSMTP):
        async def push(self, status: Any) -> None:
            pushed.append(status if isinstance(status, str) else status.decode())
            await super().push(status)

    async def scenario() -> tuple[int, str, tuple[int, str], str]:
        loop = asyncio.get_running_loop()
        handler = InboxHandler(build_inbox(Config()), 100)
        server = await loop.create_server(
            lambda: Recording(handler, data_size_limit=5000, enable_SMTPUTF8=True, hostname="fake-smtp.localhost",
                              loop=loop), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30, start_tls=False)
            await client.connect()
            ehlo = await client.ehlo(hostname="client.example")
            helo = await client.helo(hostname="client.example")   # HELO after EHLO: a plain one-line reply
            await client.quit()
        finally:
            server.close()
            await server.wait_closed()
        return ehlo.code, ehlo.message, (helo.code, helo.message), pushed[1]

    code, text, helo, ehlo_push = asyncio.run(scenario())
    assert code == 250
    assert text.splitlines() == ["fake-smtp.localhost", "SIZE 5000", "8BITMIME", "SMTPUTF8", "HELP"]
    assert ehlo_push == "250-fake-smtp.localhost\r\n250-SIZE 5000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP"
    assert helo[0] == 250


def test_ehlo_then_mail_over_smtplib(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    """smtplib reads the one-write EHLO reply as the five lines it always was (extensions seen)."""
    to = addr("ehlo")
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("size") and s.has_extn("8bitmime") and s.has_extn("smtputf8")
        assert not s.has_extn("auth") and not s.has_extn("starttls")
        s.sendmail("p@example.org", [to], _mail([to], "ehlo", "444444"))
    assert [m["Code"] for m in _search(inbox, f"to:{to}")] == ["444444"]
