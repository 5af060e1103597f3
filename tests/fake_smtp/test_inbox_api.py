"""Integration: the real inbox process over SMTP (smtplib) and HTTP (urllib)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable

from fake_smtp_helpers import InboxProcess


def test_ready_line_follows_the_contract(inbox: InboxProcess) -> None:
    r = inbox.ready
    assert r["ready"] == "inbox" and r["smtp_host"] == "127.0.0.1" and isinstance(r["pid"], int)
    assert r["url"].startswith("http://127.0.0.1:") and r["smtp_port"] > 0
    assert inbox.get("/livez").status == 200
    assert inbox.get("/readyz").status == 200


def test_message_summary_fields_and_code(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("summary")
    mid = inbox.send(to, body="Hello\r\nYour verification code is: 402913\r\nRequest reference: QWERTYUI\r\n")
    data = inbox.get_json("/api/v1/search?" + urllib.parse.urlencode({"query": f"to:{to}"}))
    assert data["messages_count"] == 1 and data["count"] == 1 and data["start"] == 0
    assert {"total", "unread", "tags", "messages"} <= set(data)
    m = data["messages"][0]
    for key in ("ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created", "Tags",
                "Size", "Attachments", "Snippet", "Seq", "Code", "Folder", "Received", "Delivered"):
        assert key in m, key
    assert m["MessageID"] == mid
    assert m["Code"] == "402913"
    assert m["Folder"] == "inbox"
    assert m["From"] == {"Name": "Portal", "Address": "portal@example.org"}
    assert m["To"] == [{"Name": "", "Address": to}]
    assert m["Read"] is False
    assert m["Delivered"] >= m["Received"]
    assert m["Snippet"].startswith("Hello Your verification code is: 402913")


def test_messages_list_paging_newest_first(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("paging")
    for i in range(3):
        inbox.send(to, subject=f"page {i}")
    data = inbox.get_json("/api/v1/messages?start=0&limit=2")
    assert data["count"] == 2
    seqs = [m["Seq"] for m in data["messages"]]
    assert seqs == sorted(seqs, reverse=True)
    assert data["messages"][0]["Subject"] == "page 2"
    page2 = inbox.get_json("/api/v1/messages?start=1&limit=2")
    assert page2["messages"][0]["Seq"] == seqs[1]
    assert inbox.get("/api/v1/messages?limit=abc").status == 400
    assert inbox.get("/api/v1/messages?start=-1").status == 400


def test_message_full_headers_raw_and_latest(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("full")
    inbox.send(to, subject="full view", body="code: 135790\r\n", extra_headers="X-Tags: alpha, beta\r\n")
    latest = inbox.get_json("/api/v1/message/latest")
    assert latest["Subject"] == "full view"
    assert latest["Text"].startswith("code: 135790")
    assert latest["HTML"] == "" and latest["Attachments"] == []
    assert latest["Tags"] == ["alpha", "beta"]
    assert latest["Read"] is True
    same = inbox.get_json(f"/api/v1/message/{latest['ID']}")
    assert same["Seq"] == latest["Seq"]
    headers = inbox.get_json(f"/api/v1/message/{latest['ID']}/headers")
    assert headers["Subject"] == ["full view"]
    raw = inbox.get(f"/api/v1/message/{latest['ID']}/raw")
    assert raw.status == 200 and b"Subject: full view\r\n" in raw.body
    assert inbox.get("/api/v1/message/doesnotexist").status == 404
    assert inbox.get("/api/v1/message/doesnotexist/raw").status == 404
    assert inbox.get_json("/api/v1/search?query=tag:alpha")["messages"][0]["ID"] == latest["ID"]


def test_attachment_and_part(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("attach")
    body = ("This is MIME\r\n--B\r\nContent-Type: text/plain\r\n\r\ncode: 246810\r\n--B\r\n"
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--B--\r\n")
    with inbox.smtp() as s:
        s.sendmail("p@x.org", [to], (f"From: p@x.org\r\nTo: {to}\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
                                     f"Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}").encode())
    summary = inbox.get_json("/api/v1/search?query=" + urllib.parse.quote(f"to:{to}"))["messages"][0]
    assert summary["Attachments"] == 1 and summary["Code"] == "246810"
    full = inbox.get_json(f"/api/v1/message/{summary['ID']}")
    att = full["Attachments"][0]
    assert att["FileName"] == "a.bin" and att["Size"] == 4
    part = inbox.get(f"/api/v1/message/{summary['ID']}/part/{att['PartID']}")
    assert part.status == 200 and part.body == b"\x00\x01\x02\x03"
    assert inbox.get(f"/api/v1/message/{summary['ID']}/part/9").status == 404
    assert inbox.get_json("/api/v1/search?query=" + urllib.parse.quote(f"to:{to} has:attachment"))["count"] == 1


def test_wait_woken_by_delivery(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("wait")
    inbox.send(to, body="code: 111111\r\n")
    first = inbox.get_json("/api/v1/search?query=" + urllib.parse.quote(f"to:{to}"))["messages"][0]
    result: dict[str, object] = {}
    started = threading.Event()

    def waiter() -> None:
        started.set()
        result["r"] = inbox.wait(f"to:{to}", after=first["Seq"], timeout=60)

    t = threading.Thread(target=waiter)
    t.start()
    started.wait(10)
    # the waiter must be registered before we send, or the test proves nothing
    for _ in range(200):
        if inbox.get_json("/api/v1/info")["Waiters"] >= 1:
            break
        threading.Event().wait(0.05)
    assert inbox.get_json("/api/v1/info")["Waiters"] >= 1
    inbox.send(to, body="code: 222222\r\n")
    t.join(60)
    r = result["r"]
    assert r.status == 200
    assert r.json()["Code"] == "222222" and r.json()["Seq"] > first["Seq"]


def test_wait_after_covers_a_message_delivered_before_the_wait(inbox: InboxProcess,
                                                               addr: Callable[[str], str]) -> None:
    to = addr("gap")
    inbox.send(to, body="code: 333333\r\n")
    r = inbox.wait(f"to:{to}", after=0, timeout=5)
    assert r.status == 200 and r.json()["Code"] == "333333"


def test_wait_times_out_with_204(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    r = inbox.wait(f"to:{addr('nobody')}", after=0, timeout=0.5)
    assert r.status == 204 and r.body == b""


def test_wait_rejects_bad_input(inbox: InboxProcess) -> None:
    assert inbox.get("/api/v1/wait?timeout=301").status == 400
    assert inbox.get("/api/v1/wait?timeout=x").status == 400
    assert inbox.get("/api/v1/wait?after=-3").status == 400
    assert inbox.get("/api/v1/wait?folder=trash").status == 400
    r = inbox.get("/api/v1/wait?query=is:bogus&timeout=1")
    assert r.status == 400 and "is:bogus" in r.text


def test_deliveries_history_lines(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    before = inbox.last_event()
    to = addr("hist")
    mid = inbox.send(to, body="code: 444444\r\n")
    lines = inbox.deliveries(before)
    assert [line["event"] for line in lines] == ["received", "delivered"]
    assert all(line["seq_event"] > before for line in lines)
    for line in lines:
        assert line["src"] == "inbox" and isinstance(line["wall"], float) and isinstance(line["st"], float)
        assert line["message_id"] == mid and line["recipients"] == [to] and line["code"] == "444444"
        assert line["rule"] is None
    assert lines[0]["size"] > 0
    delivered = lines[1]
    assert delivered["folder"] == "inbox"
    msg = inbox.get_json(f"/api/v1/message/{delivered['id']}")
    assert msg["Seq"] == delivered["seq"]
    limited = inbox.get(f"/api/v1/deliveries?after={before}&limit=1").text.splitlines()
    assert len(limited) == 1


def test_faults_get_put_and_invalid_plan_keeps_old(inbox: InboxProcess) -> None:
    plan = {"seed": 7, "rules": [{"kind": "drop", "probability": 0.5, "to": "*@drop.test"}]}
    assert inbox.request("PUT", "/api/v1/faults", plan).status == 200
    assert inbox.get_json("/api/v1/faults") == plan
    bad = inbox.request("PUT", "/api/v1/faults", {"rules": [{"kind": "delay", "distribution": "lognormal",
                                                             "median": 10}]})
    assert bad.status == 400 and "p95" in bad.text
    assert inbox.request("PUT", "/api/v1/faults", raw_body=b"{not json").status == 400
    assert inbox.request("PUT", "/api/v1/faults", {"rules": [{"kind": "meteor"}]}).status == 400
    assert inbox.get_json("/api/v1/faults") == plan


def test_delete_and_mark_read(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("del")
    for i in range(3):
        inbox.send(to, subject=f"del {i}")
    q = "/api/v1/search?query=" + urllib.parse.quote(f"to:{to}")
    msgs = inbox.get_json(q)["messages"]
    assert inbox.request("PUT", "/api/v1/messages", {"IDs": [msgs[0]["ID"]], "Read": True}).status == 200
    assert [m["Read"] for m in inbox.get_json(q)["messages"]] == [True, False, False]
    assert inbox.request("PUT", "/api/v1/messages", {"IDs": "nope"}).status == 400
    assert inbox.request("DELETE", "/api/v1/messages", {"IDs": [msgs[0]["ID"]]}).status == 200
    assert inbox.get_json(q)["messages_count"] == 2
    assert inbox.request("DELETE", "/api/v1/search?query=" + urllib.parse.quote(f"to:{to} subject:\"del 1\"")
                         ).status == 200
    assert [m["Subject"] for m in inbox.get_json(q)["messages"]] == ["del 0"]
    assert inbox.request("DELETE", "/api/v1/search?query=").status == 400


def test_chaos_get_put(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    import smtplib

    assert inbox.get_json("/api/v1/chaos")["Sender"]["Probability"] == 0  # Mailpit's shape: the triggers
    r = inbox.request("PUT", "/api/v1/chaos", {"Recipient": {"ErrorCode": 451, "Probability": 100}})
    assert r.status == 200 and r.json()["Recipient"] == {"ErrorCode": 451, "Probability": 100}
    before = inbox.last_event()
    with inbox.smtp() as s:
        s.ehlo()
        s.mail("p@x.org")
        code, _ = s.rcpt(addr("chaos"))
        assert code == 451
    refused = [line for line in inbox.deliveries(before) if line["event"] == "refused"]
    assert refused and refused[0]["fault"] == "chaos" and refused[0]["stage"] == "rcpt"
    assert inbox.request("PUT", "/api/v1/chaos", {"Sender": {"ErrorCode": 999, "Probability": 5}}).status == 400
    assert inbox.request("PUT", "/api/v1/chaos", {}).status == 200
    with inbox.smtp() as s:
        s.sendmail("p@x.org", [addr("chaos")], b"Subject: ok\r\n\r\nfine\r\n")
    assert isinstance(smtplib.SMTP, type)


def test_info_openapi_and_web_page(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    to = addr("web")
    inbox.send(to, subject="web <page>", body="Your verification code is: 987654\r\n")
    info = inbox.get_json("/api/v1/info")
    assert info["Messages"] >= 1 and info["SMTP"]["Port"] == inbox.smtp_port
    doc = inbox.get_json("/api/v1/openapi.json")
    for path in ("/api/v1/messages", "/api/v1/search", "/api/v1/message/{ID}", "/api/v1/wait",
                 "/api/v1/deliveries", "/api/v1/faults", "/api/v1/chaos", "/api/v1/info", "/livez", "/readyz"):
        assert path in doc["paths"], path
    from mfa_harness.fake_smtp.faults import _ALLOWED  # every field a rule may carry is in the schema
    variants = doc["components"]["schemas"]["FaultPlan"]["properties"]["rules"]["items"]["oneOf"]
    for kind, allowed in _ALLOWED.items():  # per kind, its schemas name exactly the fields it accepts
        named = set().union(*(set(v["properties"]) for v in variants if v["properties"]["kind"]["enum"] == [kind]))
        assert named == allowed, (kind, named ^ allowed)
    page = inbox.get("/?" + urllib.parse.urlencode({"to": to}))
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert "web &lt;page&gt;" in page.text and "987654" in page.text and "/api/v1/wait" in page.text
    assert "http://" not in page.text.replace(inbox.url, "")  # no external assets
    msg_id = inbox.get_json("/api/v1/message/latest")["ID"]
    view = inbox.get(f"/?id={msg_id}")
    assert 'class=code id=code>987654<' in view.text
    assert inbox.get("/?id=nope").status == 404
    assert inbox.get("/?folder=trash").status == 400
    spam = inbox.get("/?folder=spam")
    assert spam.status == 200 and "987654" not in spam.text


def test_hundreds_of_concurrent_waiters_woken_by_one_delivery(inbox: InboxProcess,
                                                             addr: Callable[[str], str]) -> None:
    import selectors
    import socket

    n = 300
    host, port = inbox.url.removeprefix("http://").split(":")
    after = inbox.get_json("/api/v1/info")["Seq"]
    tag = addr("bcast").split("@")[0]
    request = (f"GET /api/v1/wait?folder=any&timeout=120&after={after}&query=subject:{tag} HTTP/1.1\r\n"
               f"Host: {host}:{port}\r\nConnection: close\r\n\r\n").encode()
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection((host, int(port)), timeout=60)
            s.sendall(request)
            socks.append(s)
        for _ in range(600):  # bounded: until the server has registered every waiter
            if inbox.get_json("/api/v1/info")["Waiters"] >= n:
                break
            threading.Event().wait(0.05)
        assert inbox.get_json("/api/v1/info")["Waiters"] >= n
        inbox.send(addr("bcast"), subject=tag)
        replies: dict[socket.socket, bytes] = {s: b"" for s in socks}
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        open_count = n
        for _ in range(100_000):
            if open_count == 0:
                break
            events = sel.select(60)
            assert events, "waiters were not answered"
            for key, _mask in events:
                chunk = key.fileobj.recv(65536)
                if chunk:
                    replies[key.fileobj] += chunk
                else:
                    sel.unregister(key.fileobj)
                    open_count -= 1
        sel.close()
        statuses = [r.split(b"\r\n", 1)[0] for r in replies.values()]
        assert statuses == [b"HTTP/1.1 200 OK"] * n
        assert all(f'"Subject": "{tag}"'.encode() in r for r in replies.values())
        assert inbox.get_json("/api/v1/info")["Waiters"] == 0
    finally:
        for s in socks:
            s.close()


def test_waiter_of_a_client_that_hangs_up_is_released(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    import socket

    host, port = inbox.url.removeprefix("http://").split(":")
    base = inbox.get_json("/api/v1/info")["Waiters"]
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"GET /api/v1/wait?timeout=120&query=to:{addr('hangup')} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    counts = []
    for _ in range(600):
        counts.append(inbox.get_json("/api/v1/info")["Waiters"])
        if counts[-1] > base:
            break
        threading.Event().wait(0.05)
    assert counts[-1] == base + 1
    s.close()
    for _ in range(600):
        counts.append(inbox.get_json("/api/v1/info")["Waiters"])
        if counts[-1] == base:
            break
        threading.Event().wait(0.05)
    assert counts[-1] == base


def test_web_page_is_paged(inbox_factory: Callable[..., InboxProcess]) -> None:
    p = inbox_factory()
    with p.smtp() as s:
        for i in range(53):
            s.sendmail("p@x.org", ["pager@example.com"], f"To: pager@example.com\r\nSubject: n{i}\r\n\r\nx\r\n".encode())
    first = p.get("/?to=pager@example.com").text
    assert "1-50 of 53" in first and ">n52<" in first and ">n2<" not in first
    assert "page=1" in first and "newer" not in first
    second = p.get("/?to=pager@example.com&page=1").text
    assert "51-53 of 53" in second and ">n2<" in second and ">n0<" in second and "newer" in second
    assert p.get("/?page=x").status == 400
