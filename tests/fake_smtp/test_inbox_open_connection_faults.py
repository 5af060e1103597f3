"""Connect-stage faults on a connection kept open: each transaction after the first asks the
question a new connection asks, so a sender that reuses its connection (Django, Flask-Mailman,
the portal's outbox) meets outages and connect-stage refusals as one that connects per message."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from fake_smtp_helpers import InboxProcess


def _msg(to: str, n: int) -> bytes:
    return f"To: {to}\r\nSubject: open {n}\r\n\r\nYour verification code is: {n:06d}\r\n".encode()


def _refused(inbox: InboxProcess, after: int) -> list[tuple[Any, ...]]:
    return [(x["stage"], x["fault"], x["rule"], x["smtp_code"]) for x in inbox.deliveries(after)
            if x["event"] == "refused"]


def test_outage_resets_an_open_connection_at_the_next_mail(inbox: InboxProcess,
                                                           addr: Callable[[str], str]) -> None:
    to = addr("open-outage")
    with inbox.smtp() as s:
        s.sendmail("p@example.org", [to], _msg(to, 1))
        inbox.put_faults([{"kind": "outage", "start": -1e8, "end": 1e8}])
        after = inbox.last_event()
        with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
            s.sendmail("p@example.org", [to], _msg(to, 2))
    assert _refused(inbox, after) == [("connect", "outage", 0, None)]
    assert not [x for x in inbox.deliveries(after) if x["event"] == "received"]
    inbox.put_faults([])
    assert [m["Subject"] for m in inbox.get_json(f"/api/v1/search?query=to:{to}")["messages"]] == ["open 1"]


def test_connect_tempfail_is_421_and_close_on_an_open_connection(inbox: InboxProcess,
                                                                 addr: Callable[[str], str]) -> None:
    """Any connect-stage 4xx is answered 421 at MAIL (the 4xx a server may close after) and the
    connection closed; the history says the code the sender saw."""
    to = addr("open-tempfail")
    with inbox.smtp() as s:
        s.sendmail("p@example.org", [to], _msg(to, 1))
        inbox.put_faults([{"kind": "tempfail", "stage": "connect", "code": 450, "message": "busy"}])
        after = inbox.last_event()
        code, text = s.mail("p@example.org")
        assert (code, text) == (421, b"4.3.0 busy")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.noop()
    assert _refused(inbox, after) == [("connect", "tempfail", 0, 421)]


def test_connect_permfail_refuses_the_transaction_not_the_session(inbox: InboxProcess,
                                                                  addr: Callable[[str], str]) -> None:
    to = addr("open-permfail")
    with inbox.smtp() as s:
        s.sendmail("p@example.org", [to], _msg(to, 1))
        inbox.put_faults([{"kind": "permfail", "stage": "connect"}])
        after = inbox.last_event()
        assert s.mail("p@example.org")[0] == 554
        assert s.rset()[0] == 250
        assert _refused(inbox, after) == [("connect", "permfail", 0, 554)]
        inbox.put_faults([])
        s.sendmail("p@example.org", [to], _msg(to, 3))  # the same session goes on once it is lifted
    subjects = sorted(m["Subject"] for m in inbox.get_json(f"/api/v1/search?query=to:{to}")["messages"])
    assert subjects == ["open 1", "open 3"]


def _outcomes(inbox: InboxProcess, to: str, reuse: bool) -> list[int]:
    """SMTP code for each of 16 messages (retried on a new connection after a 421, as a sender
    would), one connection per message or one kept open while the inbox lets it."""
    got: list[int] = []
    s: smtplib.SMTP | None = None
    for n in range(16):
        try:
            if s is None:
                s = inbox.smtp()
                s.ehlo()
            code = s.mail("p@example.org")[0]
            if code == 250:
                assert s.rcpt(to)[0] == 250 and s.data(_msg(to, n))[0] == 250
        except smtplib.SMTPConnectError as exc:
            code, s = exc.smtp_code, None
        got.append(code)
        if s is not None and (code != 250 or not reuse):
            s.close()
            s = None
    if s is not None:
        s.quit()
    return got


def test_one_connect_decision_per_message_with_or_without_reuse(inbox: InboxProcess,
                                                                addr: Callable[[str], str]) -> None:
    """A 50 % connect tempfail draws once per message either way: the same seed refuses the same
    messages whether the sender connects per message or keeps its connection."""
    rule = [{"kind": "tempfail", "stage": "connect", "probability": 0.5}]
    inbox.put_faults(rule, seed=5)
    per_message = _outcomes(inbox, addr("per-message"), reuse=False)
    inbox.put_faults(rule, seed=5)
    reused = _outcomes(inbox, addr("reused"), reuse=True)
    assert reused == per_message
    assert set(per_message) == {250, 421}
