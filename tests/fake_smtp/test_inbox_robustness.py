"""Integration: malformed SMTP, 8-bit and UTF-8 mail, many recipients, oversize and broken sessions."""

from __future__ import annotations

import smtplib
import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from fake_smtp_helpers import InboxProcess


class RawSMTP:
    """A hand-driven SMTP session for inputs smtplib refuses to send."""

    def __init__(self, inbox: InboxProcess) -> None:
        self.sock = socket.create_connection((inbox.smtp_host, inbox.smtp_port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        lines = []
        for _ in range(1000):
            line = self.file.readline().decode("utf-8", "replace")
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line[4:].strip())
            if line[3:4] != "-":
                return int(line[:3]), "\n".join(lines)
        raise AssertionError("reply too long")

    def cmd(self, line: bytes) -> tuple[int, str]:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def search(inbox: InboxProcess, query: str) -> list[dict[str, Any]]:
    return inbox.get_json("/api/v1/search?" + urllib.parse.urlencode({"query": query}))["messages"]


def test_malformed_commands_get_proper_codes(inbox: InboxProcess) -> None:
    s = RawSMTP(inbox)
    try:
        assert s.greeting[0] == 220
        assert s.cmd(b"MAIL FROM:<a@b.c>")[0] == 503  # before HELO
        assert s.cmd(b"HELO")[0] == 501
        assert s.cmd(b"EHLO client.test")[0] == 250
        assert s.cmd(b"FROBNICATE now")[0] == 500
        assert s.cmd(b"RCPT TO:<x@y.z>")[0] == 503  # before MAIL
        assert s.cmd(b"DATA")[0] == 503
        assert s.cmd(b"MAIL TO:<a@b.c>")[0] == 501
        assert s.cmd(b"MAIL FROM:")[0] == 501
        assert s.cmd(b"MAIL FROM:<a@b.c> BODY=9BIT")[0] == 501
        assert s.cmd(b"MAIL FROM:<a@b.c>")[0] == 250
        assert s.cmd(b"MAIL FROM:<a@b.c>")[0] == 503  # nested
        assert s.cmd(b"RCPT TO:")[0] == 501
        assert s.cmd(b"X" * 2000)[0] == 500  # line too long
        assert s.cmd(b"NOOP")[0] == 250
        assert s.cmd(b"QUIT")[0] == 221
    finally:
        s.close()
    assert inbox.get("/livez").status == 200


def test_disconnect_mid_data_stores_nothing_and_server_keeps_serving(
        inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("middata")
    before = inbox.last_event()
    s = RawSMTP(inbox)
    s.cmd(b"EHLO client.test")
    s.cmd(b"MAIL FROM:<a@b.c>")
    s.cmd(f"RCPT TO:<{to}>".encode())
    assert s.cmd(b"DATA")[0] == 354
    s.sock.sendall(b"Subject: half\r\n\r\ncode: 121212\r\nand then the cable is cut")
    s.sock.shutdown(socket.SHUT_RDWR)
    s.close()
    inbox.send(to, subject="after the cut")
    assert [m["Subject"] for m in search(inbox, f"to:{to}")] == ["after the cut"]
    assert [e["event"] for e in inbox.deliveries(before)] == ["received", "delivered"]


def test_eight_bit_bodies_and_non_ascii_headers(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("8bit")
    utf8 = ("From: Jörg <p@example.org>\r\nTo: " + to + "\r\nSubject: Grüße – ваш код\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Ihr Bestätigungscode lautet code: 565656 — ✓\r\n").encode("utf-8")
    latin1 = ("From: p@example.org\r\nTo: " + to + "\r\nSubject: latin\r\n"
              "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
              "caf\xe9 code: 676767\r\n").encode("latin-1")
    broken = b"Subject: broken\r\nTo: " + to.encode() + b"\r\n\r\n\xff\xfe invalid utf-8 \xc3 code: 787878\r\n"
    with inbox.smtp() as s:
        for raw in (utf8, latin1, broken):
            s.sendmail("p@example.org", [to], raw, mail_options=["BODY=8BITMIME"])
    msgs = {m["Subject"]: m for m in search(inbox, f"to:{to}")}
    assert msgs["Grüße – ваш код"]["Code"] == "565656"
    assert msgs["Grüße – ваш код"]["From"]["Name"] == "Jörg"
    assert msgs["latin"]["Code"] == "676767"
    assert msgs["broken"]["Code"] == "787878"
    full = inbox.get_json(f"/api/v1/message/{msgs['latin']['ID']}")
    assert "café" in full["Text"]
    raw = inbox.get(f"/api/v1/message/{msgs['broken']['ID']}/raw")
    assert raw.body == broken  # stored byte for byte


def test_smtputf8_addresses(inbox: InboxProcess) -> None:
    to = "jörg.müller@exämple.com"
    msg = f"From: sender@exämple.com\r\nTo: {to}\r\nSubject: utf8 addr\r\n\r\ncode: 989898\r\n".encode()
    with inbox.smtp() as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("sender@exämple.com", [to], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    m = search(inbox, f"to:{to}")
    assert len(m) == 1 and m[0]["Code"] == "989898" and m[0]["To"][0]["Address"] == to
    r = inbox.wait(f"to:{to.upper()}", timeout=5)
    assert r.status == 200


def test_three_hundred_recipients(inbox_factory: Callable[..., InboxProcess], addr: Callable[[str], str]) -> None:
    inbox = inbox_factory("--max-recipients", "300")  # the default cap is 100 (test_inbox_limits.py)
    rcpts = [addr(f"many{i}") for i in range(300)]
    msg = f"From: p@example.org\r\nTo: {rcpts[0]}\r\nSubject: many\r\n\r\ncode: 300300\r\n".encode()
    with inbox.smtp() as s:
        refused = s.sendmail("p@example.org", rcpts, msg)
    assert refused == {}
    for r in (rcpts[0], rcpts[150], rcpts[299]):
        found = search(inbox, f"to:{r}")
        assert len(found) == 1 and found[0]["Code"] == "300300"
    full = inbox.get_json(f"/api/v1/message/{found[0]['ID']}")
    assert len(full["Recipients"]) == 300
    assert len(full["Bcc"]) == 299  # envelope recipients missing from the headers


def test_oversize_is_refused_with_552(inbox_factory: Callable[..., InboxProcess],
                                      addr: Callable[[str], str]) -> None:
    small = inbox_factory("--max-message-size", "2k")
    to = addr("big")
    big = b"Subject: big\r\n\r\n" + b"x" * 100 + b"\r\n" * 1 + (b"y" * 70 + b"\r\n") * 60
    with small.smtp() as s:
        s.ehlo()
        assert s.has_extn("size") and s.esmtp_features["size"] == "2048"
        with pytest.raises(smtplib.SMTPSenderRefused) as err:  # declared SIZE too big
            s.sendmail("p@example.org", [to], big)
        assert err.value.smtp_code == 552
    raw = RawSMTP(small)  # undeclared size: refused after DATA
    try:
        raw.cmd(b"EHLO c")
        raw.cmd(b"MAIL FROM:<p@example.org>")
        raw.cmd(f"RCPT TO:<{to}>".encode())
        assert raw.cmd(b"DATA")[0] == 354
        raw.sock.sendall(big + b".\r\n")
        assert raw.reply()[0] == 552
        assert raw.cmd(b"NOOP")[0] == 250  # session still usable
    finally:
        raw.close()
    refused = [e for e in small.deliveries() if e["event"] == "refused"]
    assert [(e["stage"], e["smtp_code"], e["fault"]) for e in refused] == [("mail", 552, "size"),
                                                                          ("data", 552, "size")]
    small.send(to, subject="fits")
    assert [m["Subject"] for m in search(small, f"to:{to}")] == ["fits"]


def test_large_message_is_parsed_and_served(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("large")
    body = ("Your verification code is: 515151\r\n" + ("lorem ipsum dolor sit amet " * 3 + "\r\n") * 12000)
    inbox.send(to, subject="large", body=body)
    m = search(inbox, f"to:{to}")[0]
    assert m["Code"] == "515151" and m["Size"] > 900_000
    assert inbox.get(f"/api/v1/message/{m['ID']}").json()["Text"].startswith("Your verification code is: 515151")


def test_invalid_api_input_leaves_data_intact(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("intact")
    inbox.send(to)
    total = inbox.get_json("/api/v1/messages")["total"]
    assert inbox.request("DELETE", "/api/v1/messages", raw_body=b"[1, 2").status == 400
    assert inbox.request("DELETE", "/api/v1/messages", {"IDs": [1, 2]}).status == 400
    assert inbox.request("PUT", "/api/v1/messages", {"Read": "yes"}).status == 400
    assert inbox.get("/api/v1/search?query=" + urllib.parse.quote("after:notadate")).status == 400
    assert inbox.get("/api/v1/nothing").status == 404
    assert inbox.get_json("/api/v1/messages")["total"] == total


def test_concurrent_sessions_lose_nothing(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    import threading

    to = [addr(f"conc{i}") for i in range(12)]
    errors: list[BaseException] = []

    def sender(rcpt: str) -> None:
        try:
            with inbox.smtp() as s:
                for k in range(5):
                    s.sendmail("p@example.org", [rcpt], f"To: {rcpt}\r\nSubject: c{k}\r\n\r\ncode: 10000{k}\r\n".encode())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(r,)) for r in to]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    seqs = []
    for rcpt in to:
        msgs = search(inbox, f"to:{rcpt}")
        assert sorted(m["Subject"] for m in msgs) == [f"c{k}" for k in range(5)]
        seqs += [m["Seq"] for m in msgs]
    assert len(set(seqs)) == len(seqs) == 60
