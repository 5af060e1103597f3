"""The bare same-mix client fetches the accounts once per run, not once per spawning user."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.locust_run import BARE_MFA_LOCUSTFILE

ACCOUNTS = [{"partner_id": i, "program": "agency" if i % 5 else "affiliate", "username": f"u{i}@example.test",
             "password": "pw", "locked": False} for i in range(1, 41)]


class Portalish(BaseHTTPRequestHandler):
    fetches = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.startswith("/_harness/accounts"):
            type(self).fetches += 1
            body = json.dumps(ACCOUNTS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b"<html><body>nothing here</body></html>"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.do_GET()

    def log_message(self, *args) -> None:
        pass


def test_accounts_fetched_once_for_many_users(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portalish)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(BARE_MFA_LOCUSTFILE), "--headless",
                               "-u", "20", "-r", "20", "-t", "3s", "--host", url, "--inbox-url", url,
                               "--only-summary", "--stop-timeout", "2", "--loglevel", "ERROR"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert Portalish.fetches == 1, (Portalish.fetches, proc.stderr[-2000:])
