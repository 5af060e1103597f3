"""Bad input gets a clear 4xx, writes nothing, and the portal keeps serving; CLI errors exit 2."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import requests
from portal_testkit import PYTHON, REPO, Browser, page_of, reason_of, sign_in


def audit_count(portal) -> int:
    return len(portal.events())


def test_two_megabyte_body_is_413(portal):
    b = Browser(portal.url)
    token = b.xsrf("/partner/login")
    before = audit_count(portal)
    r = b.s.post(portal.url + "/partner/login", data={"_xsrf": token, "username": "x" * (2 * 1024 * 1024)},
                 allow_redirects=False, timeout=60)
    assert r.status_code == 413 and page_of(r) == "error"
    assert audit_count(portal) == before
    assert requests.get(portal.url + "/healthz", timeout=30).text == "ok"


def test_non_utf8_form_is_400(portal):
    b = Browser(portal.url)
    token = b.xsrf("/partner/login")
    before = audit_count(portal)
    body = b"_xsrf=" + token.encode() + b"&username=%FF%FE%FA&password=abc"
    r = b.s.post(portal.url + "/partner/login", data=body, allow_redirects=False, timeout=60,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and reason_of(r) == "bad_request"
    assert audit_count(portal) == before
    assert b.get("/partner/login").status_code == 200


def test_missing_xsrf_token_with_cookie_is_403(portal):
    b = Browser(portal.url)
    b.xsrf("/partner/login")
    r = b.s.post(portal.url + "/partner/login", data={"username": "a", "password": "b"}, allow_redirects=False,
                 timeout=60)
    assert r.status_code == 403 and page_of(r) == "error"


def test_cookie_less_browser_lands_on_cookies_blocked(portal, sink):
    acct = portal.accounts("agency")[0]
    token = Browser(portal.url).xsrf("/partner/login")
    # no cookies at all: the login form post cannot carry the _xsrf cookie
    r = requests.post(portal.url + "/partner/login", data={"_xsrf": token, "username": acct["username"],
                                                           "password": acct["password"]},
                      allow_redirects=False, timeout=60)
    assert page_of(r) == "cookies-blocked"
    # a browser that keeps _xsrf but drops the pending cookie after the login redirect
    b = Browser(portal.url)
    r = b.login(acct["username"], acct["password"])
    assert r.status_code == 303
    b.s.cookies.clear(domain="127.0.0.1", path="/", name="pp_pending")
    r = b.get(r.headers["Location"])
    assert page_of(r) == "cookies-blocked"
    # following redirects from scratch ends on a page, never in a loop
    r = requests.get(portal.url + "/partner/account", timeout=60)
    assert page_of(r) == "partner-login" and len(r.history) <= 2


def test_notification_email_support_change(portal, sink):
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    portal.wait_event(lambda e: e["event"] == "email_sent")
    before = audit_count(portal)
    for bad in ["victim@example.com\r\nBcc: all@example.com", "a@example.com, b@example.com", "not-an-address", ""]:
        r = requests.post(portal.url + "/_harness/notification-email",
                          json={"partner_id": acct["partner_id"], "address": bad}, timeout=30)
        assert r.status_code == 400 and "error" in r.json()
    r = requests.post(portal.url + "/_harness/notification-email", json={"partner_id": 99999, "address": "a@b.example"},
                      timeout=30)
    assert r.status_code == 400
    assert audit_count(portal) == before
    r = requests.post(portal.url + "/_harness/notification-email",
                      json={"partner_id": acct["partner_id"], "address": "new-inbox@example.org"}, timeout=30)
    assert r.status_code == 200 and r.json()["voided"]
    r = b.verify(code)
    assert r.status_code == 400 and reason_of(r) == "wrong"
    changed = [e for e in portal.events() if e["event"] == "notification_changed"][0]
    assert changed["old"] == acct["notification_email"] and changed["new"] == "new-inbox@example.org"
    b2 = Browser(portal.url)
    assert b2.login(acct["username"], acct["password"]).status_code == 303
    sink.wait_code("new-inbox@example.org")


def test_admin_cli_sets_notification_email(portal, sink):
    acct = portal.accounts("reseller")[0]
    b, code, _ = sign_in(portal, sink, acct)
    run = subprocess.run([PYTHON, "-m", "mfa_harness.server", "admin", "set-notification-email", str(acct["partner_id"]),
                          "ops@example.net", "--db", portal.db], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["new"] == "ops@example.net"
    assert reason_of(b.verify(code)) == "wrong"
    bad = subprocess.run([PYTHON, "-m", "mfa_harness.server", "admin", "set-notification-email", str(acct["partner_id"]),
                          "ops@example.net\nBcc: x@example.net", "--db", portal.db], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "CR or LF" in bad.stderr
    row = sqlite3.connect(portal.db).execute("SELECT notification_email FROM partners WHERE id = ?",
                                             (acct["partner_id"],)).fetchone()
    assert row[0] == "ops@example.net"


def test_harness_endpoints_absent_without_harness(sink, portal_factory):
    portal = portal_factory(sink.port, harness=False)
    for path in ["/_harness/accounts", "/_harness/events", "/_harness/clock"]:
        assert requests.get(portal.url + path, timeout=30).status_code == 404
    for path in ["/_harness/clock", "/_harness/notification-email", "/_harness/lock", "/_harness/unlock"]:
        assert requests.post(portal.url + path, json={"advance": 5, "partner_id": 1}, timeout=30).status_code == 404
    with sqlite3.connect(portal.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM partners WHERE locked = 1").fetchone() == (0,)
    conn.close()
    assert requests.get(portal.url + "/healthz", timeout=30).status_code == 200


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "mfa_harness.server", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_cli_errors_are_one_line_exit_2(tmp_path):
    bad_policy = tmp_path / "p.toml"
    bad_policy.write_text("colour = 3\n")
    cases = [
        ["--bug", "code-reuse"],
        ["--harness", "--bug", "no-such-bug"],
        ["--time-scale", "0"],
        ["--port", "99999"],
        ["--processes", "2", "--db", ":memory:"],
        ["--policy", str(bad_policy)],
        ["--frobnicate"],
        ["admin", "set-notification-email", "1", "a@b.example", "--db", str(tmp_path / "missing.db")],
    ]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_list_bugs():
    r = run_cli("--list-bugs")
    assert r.returncode == 0
    names = [line.split(" \u2014 ")[0] for line in r.stdout.strip().splitlines()]
    for name in ["code-reuse", "race-on-verify", "no-expiry", "expiry-off-by-minutes", "wrong-recipient",
                 "no-resend-limit", "code-not-bound", "loop-after-verify", "per-process-secret",
                 "affiliate-challenged", "mfa-bypass", "no-attempt-limit", "early-expiry", "outbox-no-retry"]:
        assert name in names


def test_port_in_use_is_one_line_exit_2(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_cli("--port", str(port), "--db", str(tmp_path / "p.db"), "--partners", "2",
                    "--password-profile", "cheap")
    assert r.returncode == 2 and "cannot listen" in r.stderr
    assert len([line for line in r.stderr.splitlines() if "error" in line]) == 1


def test_pending_cookie_sent_back_but_invalid_goes_to_login(portal):
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    r = b.login(acct["username"], acct["password"])
    b.s.cookies.clear(domain="127.0.0.1", path="/", name="pp_pending")
    b.s.cookies.set("pp_pending", "forged-or-signed-elsewhere", domain="127.0.0.1", path="/")
    r = b.get(r.headers["Location"])
    assert r.status_code == 303 and r.headers["Location"] == "/partner/login"


def test_junk_cookies_beside_the_real_ones_change_nothing(sink, portal):
    """The portal reads cookies with Tornado's `parse_cookie` into a plain dict: names no cookie may
    have, quoted values, empty pairs and a thousand junk cookies sit beside the real ones, which
    still work (a sign-in goes through; the signed pending cookie opens the verify page)."""
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    token = b.xsrf("/partner/login")
    junk = '; '.join(f"junk{i}=v{i}" for i in range(1000))
    header = f'bad name=1; ;; "q"="x"; {junk}; _xsrf={b.s.cookies["_xsrf"]}; =novalue; z="a\\"b"'
    r = requests.post(portal.url + "/partner/login", data={"_xsrf": token, "username": acct["username"],
                                                           "password": acct["password"]},
                      headers={"Cookie": header}, allow_redirects=False, timeout=60)
    assert r.status_code == 303 and r.headers["Location"].startswith("/partner/verify")
    pending = r.cookies["pp_pending"]
    r = requests.get(portal.url + "/partner/verify", headers={"Cookie": f'x y=1; pp_pending={pending}; {junk}'},
                     allow_redirects=False, timeout=60)
    assert r.status_code == 200 and page_of(r) == "partner-verify"
    assert requests.get(portal.url + "/partner/verify", headers={"Cookie": junk}, allow_redirects=False,
                        timeout=60).headers["Location"].startswith("/partner/login")
