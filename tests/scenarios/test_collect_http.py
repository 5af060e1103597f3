"""The runner reads the portal's and the inbox's logs through the shared client (scenarios/collect.py):
every page to the end, each line marked with its source, and anything else one CollectError (exit 2)
that names the URL, never a parser's traceback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mfa_harness.errors import EXIT_SETUP
from mfa_harness.scenarios import collect

EVENTS = [{"id": i, "event": "login", "wall": float(i)} for i in (1, 2, 5)]
DELIVERIES = [{"seq_event": 1, "event": "received", "wall": 3.0}]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    """Serves the two logs (with `after=`); the test may override a path's (status, body)."""
    override: dict[str, tuple[int, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path, _, query = self.path.partition("?")
            after = int(dict(p.split("=") for p in query.split("&") if p).get("after", 0))
            rows = {"/_harness/events": [e for e in EVENTS if e["id"] > after],
                    "/api/v1/deliveries": [d for d in DELIVERIES if d["seq_event"] > after]}.get(path)
            status, body = override.get(path) or ((200, "".join(json.dumps(r) + "\n" for r in rows).encode())
                                                  if rows is not None else (404, b"no such page"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", override
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def test_logs_are_read_and_marked_with_their_source(server: tuple[str, dict]) -> None:
    url, _ = server
    assert collect.portal_events(url) == [{**e, "src": "portal"} for e in EVENTS]
    assert [e["id"] for e in collect.portal_events(url + "/", after=1)] == [2, 5]
    assert collect.inbox_deliveries(url) == [{**DELIVERIES[0], "src": "inbox"}]


def test_a_bad_answer_is_one_collect_error_naming_the_url(server: tuple[str, dict]) -> None:
    url, override = server
    override["/_harness/events"] = (200, b'{"id": 1}\n<html>a login page</html>\n')
    try:
        with pytest.raises(collect.CollectError) as err:      # it used to be the JSON parser's ValueError
            collect.portal_events(url)
        assert err.value.field("url").startswith(url + "/_harness/events?after=0")
        assert "not JSON lines" in err.value.line() and err.value.exit_code == EXIT_SETUP
        override["/api/v1/deliveries"] = (500, b"<h1>\nInternal error\n</h1>")
        with pytest.raises(collect.CollectError) as err:
            collect.inbox_deliveries(url)
        assert err.value.field("status") == 500 and "answered 500" in str(err.value) and "\n" not in str(err.value)
        override["/api/v1/faults"] = (200, b"<html>a login page</html>")
        with pytest.raises(collect.CollectError, match="not JSON"):   # a foreign answer where JSON was expected
            collect.get_json(url + "/api/v1/faults")
    finally:
        override.clear()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(collect.CollectError) as err:
        collect.get_json(closed + "/api/v1/info", timeout=10)
    assert "no answer" in str(err.value) and err.value.field("status") is None
    assert err.value.field("url") == closed + "/api/v1/info"
