"""Mailpit-compatible clients (issue 14): the fields and routes they read, compared with Mailpit's
published swagger definition, and a published Mailpit client library (PyPI ``mailpit-api-client``)
used unchanged to read a message end to end."""

from __future__ import annotations

import smtplib
import urllib.parse
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from fake_smtp_helpers import InboxProcess

MAILPIT_SUMMARY = ("ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created",
                   "Username", "Tags", "Size", "Attachments", "Snippet")
MAILPIT_MESSAGE = ("ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "ReturnPath", "Subject",
                   "ListUnsubscribe", "Date", "Tags", "Username", "Text", "HTML", "Size", "Inline", "Attachments")


def _mail(to: str, date: str | None = "Tue, 01 Dec 2026 10:00:00 +0100") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Portal <portal@example.com>", to, "Your code"
    msg["Message-ID"] = f"<{to}>"
    msg["Delivered-To"] = to
    if date is not None:
        msg["Date"] = date
    msg["X-Tags"] = "login, mfa"
    msg.set_content("Your verification code is: 482913\n")
    msg.add_alternative('<p>Your code: <b>482913</b><img src="cid:logo@x"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"GIF89a", maintype="image", subtype="gif", cid="<logo@x>")
    msg.add_attachment(b"hello", maintype="application", subtype="octet-stream", filename="a.bin")
    return msg


def _send(inbox: InboxProcess, msg: EmailMessage) -> str:
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as s:
        s.send_message(msg)
    q = urllib.parse.quote(f"to:{msg['To']}")
    return str(inbox.get_json(f"/api/v1/search?query={q}")["messages"][0]["ID"])


def test_date_is_rfc3339_from_the_header_else_the_received_time(inbox: InboxProcess,
                                                                 addr: Callable[[str], str]) -> None:
    with_date = inbox.get_json(f"/api/v1/message/{_send(inbox, _mail(addr('date')))}")
    assert with_date["Date"] == "2026-12-01T10:00:00+01:00"
    without = inbox.get_json(f"/api/v1/message/{_send(inbox, _mail(addr('nodate'), date=None))}")
    assert without["Date"].endswith("Z") and without["Date"][:19] == without["Created"][:19]
    bad = inbox.get_json(f"/api/v1/message/{_send(inbox, _mail(addr('baddate'), date='yesterday'))}")
    assert bad["Date"].endswith("Z") and bad["Date"][:4] >= "2026"


def test_headers_are_keyed_and_sorted_as_mailpit_does(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    headers = inbox.get_json(f"/api/v1/message/{_send(inbox, _mail(addr('hdr')))}/headers")
    assert list(headers) == sorted(headers)
    assert {"Message-Id", "Mime-Version", "Content-Type", "Delivered-To", "X-Tags"} <= set(headers)
    assert "Message-ID" not in headers and "MIME-Version" not in headers
    assert headers["Date"] == ["Tue, 01 Dec 2026 10:00:00 +0100"]


def test_message_and_summary_have_every_mailpit_field(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("fields")
    msg_id = _send(inbox, _mail(to))
    summary = inbox.get_json("/api/v1/search?query=" + urllib.parse.quote(f"to:{to}"))["messages"][0]
    assert set(MAILPIT_SUMMARY) <= set(summary)
    full = inbox.get_json(f"/api/v1/message/{msg_id}")
    assert set(MAILPIT_MESSAGE) <= set(full)
    assert {"Seq", "Code", "Folder"} <= set(full) and full["Code"] == "482913"  # our extras stay


def test_tags_webui_and_view_routes(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    msg_id = _send(inbox, _mail(addr("view")))
    assert {"login", "mfa"} <= set(inbox.get_json("/api/v1/tags"))
    webui = inbox.get_json("/api/v1/webui")
    assert webui["MessageRelay"]["Enabled"] is False and webui["ChaosEnabled"] is True
    html = inbox.get(f"/view/{msg_id}.html")
    assert html.status == 200 and html.headers["Content-Type"].startswith("text/html")
    assert "<b>482913</b>" in html.text and f"/api/v1/message/{msg_id}/part/" in html.text  # cid: image linked
    assert "sandbox" in html.headers["Content-Security-Policy"]  # shown, never run
    assert inbox.get("/view/latest.txt").text.startswith("Your verification code is: 482913")
    plain = EmailMessage()
    plain["To"] = addr("plain")
    plain.set_content("just text")
    plain_id = _send(inbox, plain)
    assert inbox.get(f"/view/{plain_id}.html").status == 404
    assert inbox.get("/view/nope.html").status == 404


def test_chaos_answers_the_triggers_with_mailpit_defaults(inbox: InboxProcess) -> None:
    assert inbox.get_json("/api/v1/chaos") == {"Sender": {"ErrorCode": 451, "Probability": 0},
                                               "Recipient": {"ErrorCode": 451, "Probability": 0},
                                               "Authentication": {"ErrorCode": 535, "Probability": 0}}
    assert inbox.request("PUT", "/api/v1/chaos", {"Sender": {"Probability": 2.5}}).status == 400


def test_read_flag_defaults_to_false_as_in_mailpit(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("read")
    msg_id = _send(inbox, _mail(to))
    inbox.get(f"/api/v1/message/{msg_id}")  # reading marks it read
    unread = "/api/v1/search?query=" + urllib.parse.quote(f"to:{to} is:unread")
    assert inbox.get_json(unread)["count"] == 0
    assert inbox.request("PUT", "/api/v1/messages", {"IDs": [msg_id]}).status == 200  # no Read: false
    assert inbox.get_json(unread)["count"] == 1


def test_published_mailpit_client_reads_a_message_end_to_end(inbox: InboxProcess,
                                                            addr: Callable[[str], str]) -> None:
    api = pytest.importorskip("mailpit.client.api")
    to = addr("client")
    _send(inbox, _mail(to))
    client = api.API(inbox.url, timeout=30)
    listed = client.get_messages(limit=50)
    summary = next(m for m in listed.messages if m.to[0].address == to)
    assert summary.subject == "Your code" and summary.attachments == 1
    message = client.get_message(summary.id)  # failed before: Date was RFC 2822, not RFC 3339
    assert message.date.isoformat() == "2026-12-01T10:00:00+01:00"
    assert message.text.startswith("Your verification code is: 482913")
    assert [a.file_name for a in message.attachments] == ["a.bin"]
    headers = client.get_message_headers(summary.id)  # failed before: 'Message-ID', not 'Message-Id'
    assert headers.message_id == [f"<{to}>"] and headers.delivered_to == [to]
    assert client.get_message_attachment(summary.id, message.attachments[0].part_id) == "hello"


@pytest.mark.parametrize(("name", "key"), [
    ("message-ID", "Message-Id"), ("MIME-Version", "Mime-Version"), ("x-tags", "X-Tags"), ("TO", "To"),
    ("Content-Transfer-Encoding", "Content-Transfer-Encoding"), ("bad name", "bad name"),
])
def test_canonical_header_keys_follow_go(name: str, key: str) -> None:
    from mfa_harness.fake_smtp.mailpit_shapes import canonical_key

    assert canonical_key(name) == key


def test_dates_are_written_as_go_writes_them() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from mfa_harness.fake_smtp.mailpit_shapes import go_time, message_date

    assert go_time(datetime(2026, 12, 1, 10, 0, 0, 120000, tzinfo=UTC)) == "2026-12-01T10:00:00.12Z"
    assert go_time(datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=-5)))) == "2026-12-01T10:00:00-05:00"
    assert message_date("Tue, 01 Dec 2026 10:00:00 -0000", 0) == "2026-12-01T10:00:00Z"
    assert message_date("", 0) == "1970-01-01T00:00:00.000Z"
    assert message_date("Tue, 01 Dec 99999 10:00:00 +0000", 0) == "1970-01-01T00:00:00.000Z"
