"""The load client's inbox reads against a real inbox: the profile's code regex is the one used,
and mail delivered before the client started is never read as this run's code (issue 11)."""

from __future__ import annotations

import smtplib
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from loadtests_stack import Proc, start
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mfa_harness.loadtests.inbox_client import InboxClient
from mfa_harness.loadtests.profile import load_profile

TO = "team-a@agency.example"


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Proc]:
    proc = start([sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0"],
                 tmp_path / "inbox.log", "inbox")
    try:
        yield proc
    finally:
        proc.stop()


def send(inbox: Proc, body: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "portal@example.test", TO, "Your Partner Portal verification code"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", int(inbox.ready["smtp_port"]), timeout=30) as smtp:
        smtp.send_message(msg)


def client(inbox: Proc) -> InboxClient:
    session = FastHttpSession(inbox.url, request_event=EventHook(), user=None, network_timeout=60.0,
                              connection_timeout=30.0, max_retries=0)
    return InboxClient(session, load_profile())


def test_the_profile_code_regex_wins_over_the_inbox_extraction(inbox: Proc) -> None:
    # the inbox's default extraction reads the first "code: NNNNNN" (the order code here)
    send(inbox, "Your order code: 999999\nYour verification code is: 123456\nRequest reference: AB12CD34")
    mail = client(inbox).wait(f"to:{TO}", 0, 60.0)
    assert mail is not None and mail.code == "123456" and mail.ref == "AB12CD34"


def test_mail_from_before_the_client_started_is_never_read(inbox: Proc) -> None:
    send(inbox, "Your verification code is: 111111\nRequest reference: OLDOLD11")
    c = client(inbox)
    floor = c.floor()                 # what a login uses as its lower bound, even with a reference query
    assert floor >= 1 and c.floor() == floor
    send(inbox, "Your verification code is: 222222\nRequest reference: NEWNEW22")
    mail = c.wait(f"to:{TO}", floor, 60.0)
    assert mail is not None and mail.code == "222222"
