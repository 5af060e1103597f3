"""Locked accounts: support locks and unlocks a partner (admin command or harness endpoint).

A locked partner with the right password gets the same generic answer as an unknown user;
locking ends the partner's pending logins and signed-in sessions.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import requests
from portal_testkit import PYTHON, REPO, Browser, reason_of, sign_in, strip_volatile

from mfa_harness.server.clock import ScenarioClock
from mfa_harness.server.passwords import Passwords
from mfa_harness.server.policy import Policy
from mfa_harness.server.portal import Portal
from mfa_harness.server.seeding import seed_accounts
from mfa_harness.server.storage import Store


def harness_lock(portal, partner_id, locked: bool = True) -> requests.Response:
    return requests.post(f"{portal.url}/_harness/{'lock' if locked else 'unlock'}", json={"partner_id": partner_id},
                         timeout=30)


def admin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "mfa_harness.server", "admin", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def login_answer(portal, username: str, password: str) -> tuple[int, str | None, str]:
    r = Browser(portal.url).login(username, password)
    return r.status_code, reason_of(r), strip_volatile(r.text)


def test_lock_ends_logins_and_sessions_and_unlock_restores(portal, sink):
    acct = portal.accounts("agency")[0]
    signed_in, code, _ = sign_in(portal, sink, acct)
    assert signed_in.verify(code).status_code == 303
    assert signed_in.get("/partner/account").status_code == 200
    pending, pending_code, _ = sign_in(portal, sink, acct)
    r = harness_lock(portal, acct["partner_id"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["locked"] is True and done["was_locked"] is False
    assert len(done["challenges"]) == 1 and done["voided"] and done["sessions"] == 2
    # the signed-in session and the pending login are gone
    r = signed_in.get("/partner/account")
    assert r.status_code == 303 and r.headers["Location"] == "/partner/login"
    assert pending.get("/partner/verify").headers["Location"] == "/partner/login"
    r = pending.post("/partner/verify", {"code": pending_code}, xsrf_from="/partner/login")
    assert r.status_code == 400 and reason_of(r) == "no_challenge", (r.status_code, r.headers, r.text[:300])
    # the right password now gets exactly the unknown user's answer
    locked = login_answer(portal, acct["username"], acct["password"])
    assert locked == login_answer(portal, "nobody@example.com", acct["password"])
    assert locked[:2] == (401, "generic_login")
    assert [a["locked"] for a in portal.accounts() if a["partner_id"] == acct["partner_id"]] == [True]
    events = portal.events()
    assert [e["reason"] for e in events if e["event"] == "login_failed"] == ["locked", "unknown_user"]
    locked_event = next(e for e in events if e["event"] == "account_locked")
    assert locked_event["via"] == "harness" and locked_event["voided"] == done["voided"]
    assert {e["code_id"] for e in events if e["event"] == "code_voided" and e["reason"] == "account_locked"} \
        == set(done["voided"])
    # locking twice is harmless; unlock lets the partner in again
    assert harness_lock(portal, acct["partner_id"]).json()["was_locked"] is True
    r = harness_lock(portal, acct["partner_id"], locked=False)
    assert r.status_code == 200 and r.json()["locked"] is False and r.json()["was_locked"] is True
    b, code, _ = sign_in(portal, sink, acct)
    assert b.verify(code).status_code == 303


def test_harness_lock_bad_requests_write_nothing(portal):
    before = len(portal.events())
    for body in [{"partner_id": "1"}, {"partner_id": True}, {"partner_id": 99999}, {"partner_id": 2 ** 70}, {}, [1]]:
        for path in ("/_harness/lock", "/_harness/unlock"):
            r = requests.post(portal.url + path, json=body, timeout=30)
            assert r.status_code == 400 and "error" in r.json(), (body, r.text)
    assert requests.post(portal.url + "/_harness/lock", data=b"not json", timeout=30).status_code == 400
    assert len(portal.events()) == before
    assert not any(a["locked"] for a in portal.accounts())


def test_admin_lock_and_unlock_against_a_running_portal(portal, sink):
    acct = portal.accounts("reseller")[0]
    b, code, _ = sign_in(portal, sink, acct)
    run = admin("lock", str(acct["partner_id"]), "--db", portal.db)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["partner_id"] == acct["partner_id"] and out["locked"] is True and out["sessions"] == 1
    r = b.post("/partner/verify", {"code": code}, xsrf_from="/partner/login")
    assert r.status_code == 400 and reason_of(r) == "no_challenge"
    assert login_answer(portal, acct["username"], acct["password"])[:2] == (401, "generic_login")
    run = admin("unlock", str(acct["partner_id"]), "--db", portal.db)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["locked"] is False
    assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303
    vias = [(e["event"], e["via"]) for e in portal.events() if e["event"] in ("account_locked", "account_unlocked")]
    assert vias == [("account_locked", "admin"), ("account_unlocked", "admin")]


@pytest.fixture
def portal_db(tmp_path: Path) -> Path:
    """A small portal database, made in-process (no server needed for the admin command)."""
    path = tmp_path / "portal.db"
    store = Store(str(path))
    passwords = Passwords("cheap", workers=1)
    seed_accounts(store, passwords, 3, 1)
    store.close()
    passwords.pool.shutdown()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_rows(path: Path) -> list:
    with closing(sqlite3.connect(path)) as conn:
        return [conn.execute("SELECT * FROM partners ORDER BY id").fetchall(),
                conn.execute("SELECT COUNT(*) FROM audit").fetchone()]


def test_admin_lock_bad_input_is_one_line_and_writes_nothing(tmp_path, portal_db):
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn, conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 10)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    before = {p: digest(p) for p in (foreign, text, empty)}
    rows = table_rows(portal_db)
    cases = [
        (["lock", "99999", "--db", str(portal_db)], "no partner with id 99999"),
        (["unlock", "99999", "--db", str(portal_db)], "no partner with id 99999"),
        (["lock", "first", "--db", str(portal_db)], "partner id must be an integer"),
        (["lock", "0", "--db", str(portal_db)], "out of range"),
        (["lock", str(2 ** 70), "--db", str(portal_db)], "out of range"),
        (["lock", "--db", str(portal_db)], "partner_id"),
        (["lock", "1"], "--db"),
        (["lock", "1", "--db", str(tmp_path / "missing.db")], "does not exist"),
        (["lock", "1", "--db", str(tmp_path)], "does not exist"),
        (["lock", "1", "--db", ":memory:"], "does not exist"),
        (["lock", "1", "--db", str(foreign)], "not a portal database"),
        (["unlock", "1", "--db", str(text)], "not a portal database"),
        (["lock", "1", "--db", str(empty)], "not a portal database"),
        (["set-notification-email", "1", "a@b.example", "--db", str(foreign)], "not a portal database"),
    ]
    for args, words in cases:
        run = admin(*args)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and words in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr and run.stdout == ""
    assert {p: digest(p) for p in (foreign, text, empty)} == before
    assert not (tmp_path / "missing.db").exists()
    assert table_rows(portal_db) == rows


def test_admin_lock_sets_the_column_and_unlock_clears_failures(portal_db):
    failures = "SELECT partner_id, client, failures FROM password_failures ORDER BY partner_id, client"
    with closing(sqlite3.connect(portal_db)) as conn, conn:
        conn.executemany("INSERT INTO password_failures (partner_id, client, failures, last_st) VALUES (?, ?, ?, 5)",
                         [(2, "*", 7), (2, "device:ab", 3), (3, "*", 4)])
        conn.execute("INSERT INTO wrong_codes (partner_id, challenge_id, st) VALUES (2, 1, 5)")
    assert admin("lock", "2", "--db", str(portal_db)).returncode == 0
    assert admin("lock", "2", "--db", str(portal_db)).returncode == 0
    with closing(sqlite3.connect(portal_db)) as conn:
        assert conn.execute("SELECT locked FROM partners WHERE id = 2").fetchone() == (1,)
        assert conn.execute(failures).fetchall() == [(2, "*", 7), (2, "device:ab", 3), (3, "*", 4)]
    run = admin("unlock", "2", "--db", str(portal_db))
    assert run.returncode == 0 and json.loads(run.stdout)["was_locked"] is True
    with closing(sqlite3.connect(portal_db)) as conn:
        assert conn.execute("SELECT locked FROM partners WHERE id = 2").fetchone() == (0,)
        assert conn.execute(failures).fetchall() == [(3, "*", 4)]  # every bucket of the account, no other's
        assert conn.execute("SELECT COUNT(*) FROM wrong_codes WHERE partner_id = 2").fetchone() == (0,)
        assert conn.execute("SELECT locked FROM partners WHERE id != 2").fetchall() == [(0,), (0,)]


def test_lock_committed_during_the_password_check_still_refuses():
    """The argon2 check runs outside the transaction; the write re-checks the lock."""
    store = Store(":memory:")
    store.attach_clock(ScenarioClock(0.0, 1.0, store.clock_offset))
    passwords = Passwords("cheap", workers=1)
    seed_accounts(store, passwords, 4, 3)
    portal = Portal(store, store.clock, Policy(), passwords, None, frozenset(), b"k" * 32, harness=True)
    try:
        partners = {a["program"]: store.partner(a["partner_id"]) for a in store.accounts()}
        for partner in partners.values():
            store.set_locked(partner.id, True, "test")
        assert portal.start_challenge(partners["agency"], None).ok is False
        assert store.conn.execute("SELECT COUNT(*) FROM challenges").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
        reasons = [e["reason"] for e in store.events_after(0) if e["event"] == "login_failed"]
        assert reasons == ["locked"]
    finally:
        passwords.pool.shutdown()
        store.close()
