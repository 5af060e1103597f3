"""The one HTTP client of the harness APIs (mfa_harness.harness_http), against a real loopback
server that answers as the portal and the inbox do, and as they do when something is wrong."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mfa_harness.errors import EXIT_SETUP, HarnessError
from mfa_harness.harness_http import HttpError, InboxApi, PortalHarness, call_json, request

EVENTS = [{"id": i, "event": "login"} for i in (1, 2, 5, 9, 10)]     # ids with gaps, as after a rollback


class _Handler(BaseHTTPRequestHandler):
    release: threading.Event
    seen: list[tuple[str, str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.seen.append((method, self.path, body))
        if url.path == "/_harness/events":
            after, limit = int(q.get("after", 0)), int(q.get("limit", 1000))
            page = [e for e in EVENTS if e["id"] > after][:limit]
            self._send(200, "".join(json.dumps(e) + "\n" for e in page).encode(), "application/x-ndjson")
        elif url.path == "/_harness/clock" and method == "POST":
            self._send(200, json.dumps({"offset": float(body["advance"]) + 1}).encode())
        elif url.path == "/_harness/accounts":
            self._send(200, b'[{"username": "ann"}]')
        elif url.path == "/api/v1/wait":
            self._send(204) if q.get("query") == "to:nobody" else self._send(200, b'{"Seq": 7, "Code": "123456"}')
        elif url.path == "/api/v1/faults" and method == "PUT":
            if body["rules"] and "kind" not in body["rules"][0]:
                self._send(400, b"PUT /api/v1/faults: rule 0: 'kind' is required", "text/plain")
            else:
                self._send(200, json.dumps(body).encode())
        elif url.path == "/not-json":
            self._send(200, b"<html>a login page</html>", "text/html")
        elif url.path == "/slow":
            self.release.wait(30)
            self._send(200, b"{}")
        elif url.path == "/hang-up":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif url.path == "/crash":
            self._send(500, b"<html>\n<h1>Internal error</h1>\n</html>\n", "text/html")
        else:
            self._send(404, b"no such page", "text/plain")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[tuple[str, str, Any]]]]:
    release, seen = threading.Event(), []
    handler = type("Handler", (_Handler,), {"release": release, "seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def test_portal_harness_endpoints(server: tuple[str, list[Any]]) -> None:
    url, seen = server
    portal = PortalHarness(url + "/")                        # a trailing slash is fine
    assert portal.accounts() == [{"username": "ann"}]
    assert portal.advance_clock(301) == 302.0
    assert seen[-1] == ("POST", "/_harness/clock", {"advance": 301})
    assert portal.events(after=2, limit=2) == EVENTS[2:4]


def test_paged_logs_are_read_to_the_end(server: tuple[str, list[Any]]) -> None:
    url, seen = server
    portal = PortalHarness(url)
    assert list(portal._paged("/_harness/events", "id", 0, json.loads, page=2)) == EVENTS
    asked = [path for _, path, _ in seen if path.startswith("/_harness/events")][-3:]
    assert asked == ["/_harness/events?after=0&limit=2", "/_harness/events?after=2&limit=2",
                     "/_harness/events?after=9&limit=2"]          # the next page starts after the last id seen
    assert portal.all_events(after=5) == EVENTS[3:]
    with pytest.raises(HttpError, match=r"/_harness/events: answered 200 \(a line without an integer 'seq'"):
        list(portal._paged("/_harness/events", "seq", 0, json.loads, page=2))   # no next page to ask for


def test_inbox_wait_and_fault_plan(server: tuple[str, list[Any]]) -> None:
    url, seen = server
    inbox = InboxApi(url)
    assert inbox.wait("to:nobody", after=3, timeout=0.5) is None                 # 204: nothing came
    assert seen[-1][1] == "/api/v1/wait?query=to%3Anobody&after=3&timeout=0.5&folder=inbox"
    assert inbox.wait("to:ann", timeout=1) == {"Seq": 7, "Code": "123456"}
    assert inbox.set_faults([{"kind": "drop"}]) == {"rules": [{"kind": "drop"}]}   # no seed: the inbox's own
    assert inbox.set_faults([], seed=3) == {"seed": 3, "rules": []}
    assert inbox.put_faults({"seed": 4, "rules": [], "note": "x"}) == {"seed": 4, "rules": [], "note": "x"}  # as is
    with pytest.raises(HttpError) as err:
        inbox.set_faults([{"probability": 1}])
    assert (err.value.status, err.value.method) == (400, "PUT")
    assert err.value.detail == "PUT /api/v1/faults: rule 0: 'kind' is required"   # the inbox's own words
    assert "answered 400" in str(err.value) and "\n" not in str(err.value)


def test_an_unexpected_status_or_body_is_a_clear_error(server: tuple[str, list[Any]]) -> None:
    url, _ = server
    assert request("GET", url + "/missing").status == 404                           # an answer, not an error
    with pytest.raises(HttpError, match=r"GET .*/missing: answered 404 \(no such page\)"):
        call_json("GET", url + "/missing")
    with pytest.raises(HttpError, match="not JSON: '<html>a login page"):
        call_json("GET", url + "/not-json")
    with pytest.raises(HttpError) as err:
        call_json("GET", url + "/crash")
    assert str(err.value).endswith("answered 500 (<html> <h1>Internal error</h1> </html>)")   # one line


def test_no_answer_is_an_error_with_no_status(server: tuple[str, list[Any]]) -> None:
    url, _ = server
    with pytest.raises(HttpError) as err:
        request("GET", url + "/slow", timeout=0.3)
    assert err.value.status is None and "no answer" in str(err.value)
    with pytest.raises(HttpError) as err:
        request("GET", url + "/hang-up")
    assert err.value.status is None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed = sock.getsockname()[1]
    sock.close()                                             # nobody listens there now
    with pytest.raises(HttpError) as err:
        PortalHarness(f"http://127.0.0.1:{closed}").accounts()
    assert err.value.status is None and err.value.url.endswith("/_harness/accounts")


def test_an_http_error_is_a_harness_error_with_its_facts_as_fields(server: tuple[str, list[Any]]) -> None:
    url, _ = server
    with pytest.raises(HarnessError) as err:            # the command line's one handler catches it: exit 2
        call_json("GET", url + "/missing")
    assert isinstance(err.value, HttpError) and isinstance(err.value, RuntimeError)   # old catchers still catch
    assert err.value.exit_code == EXIT_SETUP
    assert err.value.fields == {"method": "GET", "url": url + "/missing", "status": 404, "detail": "no such page"}
    assert err.value.to_json()["kind"] == "HttpError"
    assert err.value.why == "answered 404 (no such page)"             # the message without method and URL
