"""Issue 13's inbox findings, each reproduced against the real process: stored XSS through the
part API (item 7), DNS rebinding (item 8), bad input that gave 500 and fault plans that were
accepted and then broke at delivery (item 13)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Callable

import pytest
from fake_smtp_helpers import InboxProcess

from mfa_harness.fake_smtp.fault_engine import FaultEngine
from mfa_harness.fake_smtp.faults import MAX_SECONDS, parse_plan

SCRIPT = "<script>fetch('/api/v1/messages').then(r=>r.text()).then(t=>alert(t))</script>"


def _raw(inbox: InboxProcess, method: str, path: str, host: str | None, body: bytes | None = None,
         version: str = "HTTP/1.1") -> tuple[int, dict[str, str], bytes]:
    """One request with exactly the Host header given (None: no Host header at all)."""
    hostname, port = inbox.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(hostname, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _send_active_parts(inbox: InboxProcess, to: str) -> str:
    body = ("--B\r\nContent-Type: text/plain\r\n\r\nYour verification code is: 424242\r\n"
            f"--B\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"x.html\"\r\n\r\n"
            f"<html><body>{SCRIPT}</body></html>\r\n"
            "--B\r\nContent-Type: image/svg+xml\r\nContent-Disposition: attachment; filename=\"x.svg\"\r\n\r\n"
            f"<svg xmlns=\"http://www.w3.org/2000/svg\">{SCRIPT}</svg>\r\n"
            "--B\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"x.png\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B--\r\n")
    with inbox.smtp() as s:
        s.sendmail("p@x.org", [to], (f"From: p@x.org\r\nTo: {to}\r\nSubject: xss\r\nMIME-Version: 1.0\r\n"
                                     f"Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}").encode())
    return inbox.get_json("/api/v1/search?query=" + urllib.parse.quote(f"to:{to}"))["messages"][0]["ID"]


def test_active_parts_are_downloads_under_a_sandbox_csp(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    msg_id = _send_active_parts(inbox, addr("xss"))
    parts = {a["ContentType"]: a["PartID"] for a in inbox.get_json(f"/api/v1/message/{msg_id}")["Attachments"]}
    for ctype in ("text/html", "image/svg+xml"):
        r = inbox.get(f"/api/v1/message/{msg_id}/part/{parts[ctype]}")
        assert r.status == 200 and SCRIPT.encode() in r.body  # the content is served unchanged...
        assert r.headers["Content-Disposition"].startswith("attachment"), ctype  # ...as a download
        assert "sandbox" in r.headers["Content-Security-Policy"] and "script-src" not in r.headers[
            "Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    png = inbox.get(f"/api/v1/message/{msg_id}/part/{parts['image/png']}")
    assert png.headers["Content-Type"] == "image/png" and png.headers["Content-Disposition"] == "inline"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/?id=nope"), ("GET", "/api/v1/info"), ("GET", "/api/v1/messages"),
    ("GET", "/api/v1/messages?limit=x"), ("GET", "/api/v1/message/nope"), ("GET", "/nowhere"),
    ("TRACE", "/api/v1/messages"), ("GET", "/livez"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/deliveries"), ("GET", "/api/v1/wait?timeout=0"),
])
def test_every_answer_carries_csp_and_nosniff(inbox: InboxProcess, method: str, path: str) -> None:
    status, headers, _ = _raw(inbox, method, path, inbox.url.removeprefix("http://"))
    assert status < 500
    assert "default-src 'none'" in headers["content-security-policy"], (path, headers)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_405_names_the_allowed_methods(inbox: InboxProcess) -> None:
    status, headers, _ = _raw(inbox, "TRACE", "/api/v1/messages", inbox.url.removeprefix("http://"))
    assert status == 405 and headers["allow"] == "GET, PUT, DELETE"
    status, headers, _ = _raw(inbox, "POST", "/livez", inbox.url.removeprefix("http://"))
    assert status == 405 and headers["allow"] == "GET"


def test_errors_are_one_line_with_their_reason_phrase(inbox: InboxProcess) -> None:
    """write_error reads the reason from the HTTPError (or the standard phrase), not tornado's private field."""
    host = inbox.url.removeprefix("http://")
    assert _raw(inbox, "GET", "/api/v1/message/nope", host)[::2] == (404, b"404 Message not found\n")
    assert _raw(inbox, "GET", "/nowhere", host)[::2] == (404, b"404 Not Found\n")
    assert _raw(inbox, "TRACE", "/api/v1/messages", host)[::2] == (405, b"405 Method Not Allowed\n")


def test_foreign_host_headers_are_refused(inbox: InboxProcess, addr: Callable[[str], str]) -> None:
    inbox.send(addr("rebind"), body="Your verification code is: 555666\r\n")
    port = inbox.url.rsplit(":", 1)[1]
    for host in ("rebind.attacker.example", f"rebind.attacker.example:{port}", "127.0.0.1:1",
                 f"127.0.0.2:{port}", f"localhost.attacker.example:{port}", None):
        for path in ("/api/v1/messages", "/api/v1/message/latest", "/", "/api/v1/info", "/livez", "/nowhere"):
            status, _headers, body = _raw(inbox, "GET", path, host)
            assert status == (400 if host is None else 421), (host, path, status)  # no Host: HTTP/1.1 says 400
            assert b"555666" not in body and b"Address" not in body
        status, _headers, _ = _raw(inbox, "DELETE", "/api/v1/messages", host, b"{}")
        assert status == (400 if host is None else 421)
    assert inbox.get_json("/api/v1/info")["Messages"] >= 1  # the refused DELETE deleted nothing
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        status, _headers, body = _raw(inbox, "GET", "/api/v1/message/latest", host)
        assert status == 200 and b"555666" in body, host


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/v1/messages"), ("DELETE", "/api/v1/messages"), ("PUT", "/api/v1/faults"),
    ("PUT", "/api/v1/chaos"),
])
def test_json_nested_50000_deep_is_a_400_and_changes_nothing(inbox: InboxProcess, addr: Callable[[str], str],
                                                             method: str, path: str) -> None:
    inbox.send(addr("deep"))
    inbox.put_faults([{"kind": "spam", "to": "deep-marker@*"}])
    before = inbox.get_json("/api/v1/info")["Messages"]
    for body in (b"[" * 50_000, b'{"IDs": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"):
        r = inbox.request(method, path, raw_body=body)
        assert r.status == 400, r.body[:200]
        assert r.text.count("\n") == 1 and "nested too deeply" in r.text
    assert inbox.get_json("/api/v1/info")["Messages"] == before
    assert inbox.get_json("/api/v1/faults")["rules"] == [{"kind": "spam", "to": "deep-marker@*"}]


@pytest.mark.parametrize("body", [b"null", b"[]", b"7", b'"text"'])
def test_json_body_that_is_not_an_object_is_a_400(inbox: InboxProcess, body: bytes) -> None:
    for method, path in (("PUT", "/api/v1/messages"), ("DELETE", "/api/v1/messages"), ("PUT", "/api/v1/chaos")):
        r = inbox.request(method, path, raw_body=body)
        assert r.status == 400 and "must be a JSON object" in r.text, (method, path, body)


def test_messages_put_search_must_be_a_string(inbox: InboxProcess) -> None:
    assert inbox.request("PUT", "/api/v1/messages", {"Search": {}}).status == 400
    assert inbox.request("PUT", "/api/v1/messages", {"Search": 5, "Read": True}).status == 400


@pytest.mark.parametrize(("rule", "fragment"), [
    ({"kind": "delay", "distribution": "lognormal", "median": 1, "p95": 1e300}, "'p95' must be <="),
    ({"kind": "delay", "distribution": "lognormal", "median": 1e-300, "p95": 1}, "'median' must be >="),
    ({"kind": "delay", "seconds": 1e300}, "'seconds' must be <="),
    ({"kind": "delay", "distribution": "uniform", "min": 0, "max": 1e300}, "'max' must be <="),
    ({"kind": "reorder", "window": 1e300}, "'window' must be <="),
    ({"kind": "rate-limit", "max": 1, "per": 1e300}, "'per' must be <="),
    ({"kind": "drop", "start": -1e300}, "'start' must be >="),
    ({"kind": "tempfail", "message": "x" * 100_000}, "'message' must be one line of printable ASCII"),
    ({"kind": "permfail", "message": "caf\u00e9"}, "'message' must be one line of printable ASCII"),
    ({"kind": "permfail", "message": "a\tb"}, "'message' must be one line of printable ASCII"),
])
def test_fault_plan_bounds_are_checked_when_the_plan_is_set(inbox: InboxProcess, rule: dict, fragment: str) -> None:
    inbox.put_faults([{"kind": "spam", "to": "bounds-marker@*"}])
    r = inbox.request("PUT", "/api/v1/faults", {"rules": [rule]})
    assert r.status == 400, r.text[:200]
    assert fragment in r.text and r.text.count("\n") == 1 and len(r.text) < 400
    assert inbox.get_json("/api/v1/faults")["rules"] == [{"kind": "spam", "to": "bounds-marker@*"}]


def test_lognormal_tail_is_capped_not_overflowing() -> None:
    """The widest plan that is accepted still samples finite delays within the bound."""
    rule = {"kind": "delay", "distribution": "lognormal", "median": 0.001, "p95": MAX_SECONDS}
    engine = FaultEngine(parse_plan({"seed": 3, "rules": [rule]}))
    delays = [engine.sample_delay(engine.plan.rules[0]) for _ in range(2000)]
    assert max(delays) == MAX_SECONDS and min(delays) > 0


def test_longest_accepted_reply_text_reaches_the_client_intact(inbox: InboxProcess,
                                                               addr: Callable[[str], str]) -> None:
    text = "mailbox busy " + "x" * 387
    inbox.put_faults([{"kind": "tempfail", "stage": "rcpt", "to": "busy.*", "message": text}])
    with inbox.smtp() as s:
        s.ehlo()
        s.mail("p@x.org")
        code, reply = s.rcpt(addr("busy"))
    assert code == 451 and reply.decode() == f"4.3.0 {text}"


def test_extreme_accepted_delay_plan_answers_250_and_holds_the_mail(inbox: InboxProcess,
                                                                  addr: Callable[[str], str]) -> None:
    to = addr("tail")
    inbox.put_faults([{"kind": "delay", "distribution": "lognormal", "median": 0.001, "p95": MAX_SECONDS,
                       "to": "tail.*"}], seed=11)
    after = inbox.last_event()
    for _ in range(20):
        with inbox.smtp() as s:
            refused = s.sendmail("p@x.org", [to], f"To: {to}\r\nSubject: t\r\n\r\nx\r\n".encode())
        assert refused == {}
    events = [line["event"] for line in inbox.deliveries(after)]
    assert events.count("received") == 20 and "refused" not in events
    assert all(isinstance(json.dumps(line), str) for line in inbox.deliveries(after))

