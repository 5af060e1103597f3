"""Issue 13, portal side: each attack of the adversarial review, reproduced against the real
portal process, now refused (README "Security")."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlsplit

import pytest
import requests
from portal_testkit import Browser, body_text, page_of, reason_of, ref_of, sign_in, strip_volatile

EVIL = "attacker.example"
RESET_LINK = re.compile(r"(\S+)/partner/reset-password\?token=([A-Za-z0-9_-]+)")


def reset_mails(sink) -> list:
    with sink.handler.cond:
        return [m for m in sink.handler.messages if m["Subject"] == "Reset your Partner Portal password"]


def port_of(portal) -> int:
    return urlsplit(portal.url).port


# ---- 1. reset-link poisoning, 8. DNS rebinding ------------------------------------------------

def test_forgot_password_with_a_foreign_host_is_refused_and_mails_nothing(portal, sink):
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    token = b.xsrf("/partner/forgot-password")
    r = b.s.post(portal.url + "/partner/forgot-password", data={"_xsrf": token, "username": acct["username"]},
                 headers={"Host": EVIL}, allow_redirects=False, timeout=60)
    assert r.status_code == 421 and EVIL not in r.text
    assert not [e for e in portal.events() if e["event"].startswith("reset_")]
    # the same request with the portal's own Host mails a link to the listening address
    r = b.post("/partner/forgot-password", {"username": acct["username"]})
    assert r.status_code == 200
    mail = sink.wait_for(lambda m: m["Subject"] == "Reset your Partner Portal password")
    assert RESET_LINK.search(body_text(mail)).group(1) == portal.url
    assert len(reset_mails(sink)) == 1


def test_reset_link_base_is_the_public_url(sink, portal_factory):
    portal = portal_factory(sink.port, "--public-url", "https://portal.example.test/pp/")
    acct = portal.accounts("reseller")[0]
    b = Browser(portal.url)
    assert b.post("/partner/forgot-password", {"username": acct["username"]}).status_code == 200
    mail = sink.wait_for(lambda m: m["Subject"] == "Reset your Partner Portal password")
    assert RESET_LINK.search(body_text(mail)).group(1) == "https://portal.example.test/pp"
    # the public URL's host is one of the portal's own names
    r = requests.get(portal.url + "/partner/login", headers={"Host": "portal.example.test"}, timeout=30)
    assert r.status_code == 200 and page_of(r) == "partner-login"


@pytest.mark.parametrize("path", ["/_harness/accounts", "/_harness/events", "/_harness/clock", "/",
                                  "/partner/login", "/healthz", "/no-such-page"])
def test_every_route_refuses_a_foreign_host(portal, path):
    r = requests.get(portal.url + path, headers={"Host": f"rebind.{EVIL}:{port_of(portal)}"}, timeout=30)
    assert r.status_code == 421, r.text
    assert "password" not in r.text and "@" not in r.text


def test_harness_posts_refuse_a_foreign_host(portal):
    before = requests.get(portal.url + "/_harness/clock", timeout=30).json()["offset"]
    acct = portal.accounts("agency")[0]
    for path, body in [("/_harness/clock", {"advance": 3600}), ("/_harness/lock", {"partner_id": acct["partner_id"]})]:
        r = requests.post(portal.url + path, json=body, headers={"Host": EVIL}, timeout=30)
        assert r.status_code == 421
    assert requests.get(portal.url + "/_harness/clock", timeout=30).json()["offset"] == before
    assert not portal.accounts("agency")[0]["locked"]


def test_loopback_names_are_the_portals_own(portal):
    port = port_of(portal)
    for host in [f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}", "localhost"]:
        r = requests.get(portal.url + "/_harness/accounts", headers={"Host": host}, timeout=30)
        assert r.status_code == 200 and r.json(), host
    for host in [f"127.0.0.1:{port + 1 if port < 65535 else 1}", f"127.0.0.2:{port}", f"localhost.{EVIL}:{port}"]:
        assert requests.get(portal.url + "/_harness/accounts", headers={"Host": host}, timeout=30).status_code == 421


# ---- 2. code guessing and mail bombing ----------------------------------------------------------

def guess_until_refused(portal, acct) -> tuple[int, int]:
    """An attacker with the password: sign in, enter wrong codes, again, until a login is refused.
    Returns (codes checked and wrong, logins that opened a challenge)."""
    wrong, logins = 0, 0
    for _ in range(40):
        b = Browser(portal.url)
        r = b.login(acct["username"], acct["password"])
        if r.status_code == 429:
            assert reason_of(r) == "rate_limited" and int(r.headers["Retry-After"]) >= 1
            return wrong, logins
        assert r.status_code == 303
        logins += 1
        for _ in range(6):
            r = b.verify("000000")
            reason = reason_of(r)
            if reason == "too_many":
                break
            assert reason == "wrong"
    raise AssertionError("logins were never refused")


def test_code_guessing_is_capped_per_account_hour_then_frozen(portal, sink):
    acct = portal.accounts("agency")[0]
    checked = lambda: [e for e in portal.events() if e["event"] == "verify_fail" and "cap" not in e]  # noqa: E731
    guess_until_refused(portal, acct)
    assert len(checked()) == 10                     # max_wrong_codes_per_account_hour
    portal.advance(3600)
    guess_until_refused(portal, acct)
    assert len(checked()) == 20
    for _ in range(8):                              # up to 100 since the last successful sign-in
        portal.advance(3600)
        guess_until_refused(portal, acct)
    assert len(checked()) == 100
    portal.advance(3 * 3600)
    r = Browser(portal.url).login(acct["username"], acct["password"])
    assert r.status_code == 429 and "Reset your password" in r.text       # frozen, whatever the hour
    refused = [e for e in portal.events() if e["event"] == "login_failed"]
    assert refused[-1]["reason"] == "guess_freeze"
    # the owner's way out: a password reset (it reads the notification address) unfreezes
    b = Browser(portal.url)
    b.post("/partner/forgot-password", {"username": acct["username"]})
    token = RESET_LINK.search(body_text(sink.wait_for(
        lambda m: m["Subject"] == "Reset your Partner Portal password"))).group(2)
    r = b.post("/partner/reset-password", {"token": token, "new_password": "owner-new-password-1"},
               xsrf_from=f"/partner/reset-password?token={token}")
    assert r.status_code == 303
    assert Browser(portal.url).login(acct["username"], "owner-new-password-1").status_code == 303


def test_unused_codes_cap_logins_but_a_user_who_signs_in_is_never_capped(portal, sink):
    acct, other = portal.accounts("reseller")[0], portal.accounts("agency")[0]
    for _ in range(10):                             # codes mailed and never used
        assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303
    r = Browser(portal.url).login(acct["username"], acct["password"])
    assert r.status_code == 429 and reason_of(r) == "rate_limited"
    assert [e["reason"] for e in portal.events() if e["event"] == "login_failed"] == ["code_cap"]
    issued = len([e for e in portal.events() if e["event"] == "code_issued" and e["partner_id"] == acct["partner_id"]])
    assert issued == 10                             # max_unused_codes_per_account_hour
    # a user with a typo who then enters the right code: 15 sign-ins in one hour, none refused
    for _ in range(15):
        b, code, _ = sign_in(portal, sink, other)
        assert reason_of(b.verify("000000" if code != "000000" else "111111")) == "wrong"
        assert b.verify(code).status_code == 303


# ---- 3. a username alone cannot lock its owner out ----------------------------------------------

def test_wrong_passwords_for_a_victim_do_not_lock_out_its_owner(sink, portal_factory):
    # time scale 0.001: only the harness clock moves scenario time, so the test does not depend on speed
    portal = portal_factory(sink.port, "--time-scale", "0.001")
    acct = portal.accounts("agency")[0]
    owner, _, _ = sign_in(portal, sink, acct)       # the owner's browser signed in before
    refused = []
    for second in range(120):                       # the attacker: a wrong password every scenario second
        assert Browser(portal.url).login(acct["username"], f"guess-{second}").status_code == 401
        portal.advance(1)
        if second in (40, 50, 80, 100, 115):        # inside the backoff the attack keeps up (2, 4 ... 64 s)
            refused.append(owner.login(acct["username"], acct["password"]).status_code != 303)
    assert refused == [False] * 5
    reasons = [e["reason"] for e in portal.events() if e["event"] == "login_failed"]
    assert reasons.count("throttled") > 100          # the attacker's own tries are throttled
    # the right password from a browser the account never saw is throttled with the attacker's
    assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 401


def test_a_reset_gives_the_owner_a_new_browser_past_the_attack(portal, sink):
    acct = portal.accounts("reseller")[0]
    for second in range(10):
        Browser(portal.url).login(acct["username"], f"guess-{second}")
        portal.advance(1)
    b = Browser(portal.url)                          # a new browser: no trusted device yet
    b.post("/partner/forgot-password", {"username": acct["username"]})
    token = RESET_LINK.search(body_text(sink.wait_for(
        lambda m: m["Subject"] == "Reset your Partner Portal password"))).group(2)
    r = b.post("/partner/reset-password", {"token": token, "new_password": "owner-new-password-2"},
               xsrf_from=f"/partner/reset-password?token={token}")
    assert r.status_code == 303
    for second in range(10):
        Browser(portal.url).login(acct["username"], f"more-{second}")
    assert b.login(acct["username"], "owner-new-password-2").status_code == 303


# ---- 4. reset tokens ----------------------------------------------------------------------------

def test_a_password_change_voids_every_other_reset_link(portal, sink):
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    for _ in range(2):
        b.post("/partner/forgot-password", {"username": acct["username"]})
    sink.wait_for(lambda m: len(reset_mails(sink)) >= 2)
    older, newer = (RESET_LINK.search(body_text(m)).group(2) for m in reset_mails(sink)[:2])
    r = b.post("/partner/reset-password", {"token": newer, "new_password": "first-new-password"},
               xsrf_from=f"/partner/reset-password?token={newer}")
    assert r.status_code == 303
    assert reason_of(b.get(f"/partner/reset-password?token={older}")) == "bad_token"
    r = b.post("/partner/reset-password", {"token": older, "new_password": "attacker-password"},
               xsrf_from="/partner/forgot-password")
    assert r.status_code == 400 and reason_of(r) == "bad_token"
    assert Browser(portal.url).login(acct["username"], "attacker-password").status_code == 401


def test_changing_the_password_in_my_account_voids_reset_links(portal, sink):
    acct = portal.accounts("reseller")[0]
    Browser(portal.url).post("/partner/forgot-password", {"username": acct["username"]})
    token = RESET_LINK.search(body_text(sink.wait_for(
        lambda m: m["Subject"] == "Reset your Partner Portal password"))).group(2)
    b, code, _ = sign_in(portal, sink, acct)
    b.verify(code)
    r = b.post("/partner/my-account", {"current_password": acct["password"], "new_password": "changed-password-1"})
    assert r.status_code == 200
    assert reason_of(Browser(portal.url).get(f"/partner/reset-password?token={token}")) == "bad_token"


def test_forgot_password_is_rate_limited_per_username_with_the_same_answer(portal, sink):
    acct = portal.accounts("agency")[0]
    pages = []
    for _ in range(12):
        r = Browser(portal.url).post("/partner/forgot-password", {"username": acct["username"]})
        pages.append((r.status_code, strip_volatile(r.text)))
    ghost = Browser(portal.url).post("/partner/forgot-password", {"username": "ghost@example.com"})
    assert {p for p in pages} == {(200, strip_volatile(ghost.text))}
    events = [e for e in portal.events() if e["event"] in ("reset_requested", "reset_refused")]
    mine = [e for e in events if e["partner_id"] == acct["partner_id"]]
    assert [e["event"] for e in mine] == ["reset_requested"] * 3 + ["reset_refused"] * 9
    assert {e["reason"] for e in mine if e["event"] == "reset_refused"} == {"account_cap"}
    portal.advance(3600)
    Browser(portal.url).post("/partner/forgot-password", {"username": acct["username"]})
    assert [e["event"] for e in portal.events() if e["event"].startswith("reset_")][-1] == "reset_requested"


def test_forgot_password_is_rate_limited_per_client(portal, sink):
    names = [a["username"] for a in portal.accounts()] + [f"ghost{i}@example.com" for i in range(20)]
    for name in names[:25]:
        assert Browser(portal.url).post("/partner/forgot-password", {"username": name}).status_code == 200
    events = [e for e in portal.events() if e["event"] in ("reset_requested", "reset_refused")]
    assert len(events) == 25
    assert [e["event"] for e in events].count("reset_requested") == 20   # max_resets_per_client_hour
    assert {e["reason"] for e in events if e["event"] == "reset_refused"} == {"client_cap"}


# ---- 5. `next` that a Location header cannot carry -----------------------------------------------

@pytest.mark.parametrize(("target", "location"), [("/\u0430\u0431", "/%D0%B0%D0%B1"),
                                                  ("/\u2028x", "/%E2%80%A8x"),
                                                  ("/partner/my-account?q=\u00e9", "/partner/my-account?q=%C3%A9")])
def test_next_outside_latin1_is_encoded_before_the_code_is_spent(portal, sink, target, location):
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    r = b.post("/partner/login", {"username": acct["username"], "password": acct["password"], "next": target})
    assert r.status_code == 303
    ref = ref_of(b.get("/partner/verify"))
    code, _ = sink.wait_code(acct["notification_email"], ref)
    r = b.verify(code)
    assert r.status_code == 303 and r.headers["Location"] == location
    assert page_of(b.get("/partner/account")) == "partner-account"


# ---- 6. plaintext passwords only in harness mode --------------------------------------------------

def stored_plaintext(db: str) -> list:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT seed_password FROM partners").fetchall()
    conn.close()
    return [r[0] for r in rows]


def test_plaintext_passwords_are_kept_only_in_harness_mode(sink, portal_factory, tmp_path):
    harness = portal_factory(sink.port, db=str(tmp_path / "harness.db"))
    assert all(stored_plaintext(harness.db)) and "harness default seed" not in harness.stderr()
    plain = portal_factory(sink.port, harness=False, db=str(tmp_path / "plain.db"))   # with --seed 7
    assert stored_plaintext(plain.db) and not any(stored_plaintext(plain.db))
    assert "from the given --seed" in plain.stderr()
    # a database seeded in harness mode loses its plaintext when served without --harness
    harness.stop()
    again = portal_factory(sink.port, harness=False, db=harness.db)
    assert not any(stored_plaintext(again.db))


def test_without_harness_and_without_seed_the_seed_is_a_generated_secret(sink, portal_factory, tmp_path):
    users = []
    for name in ("a", "b"):
        portal = portal_factory(sink.port, harness=False, seed=None, partners=3, db=str(tmp_path / f"{name}.db"))
        assert "generated secret seed" in portal.stderr()
        assert not any(stored_plaintext(portal.db))
        with sqlite3.connect(portal.db) as conn:
            users.append({r[0] for r in conn.execute("SELECT username FROM partners")})
        conn.close()
    assert users[0] and users[0] != users[1]          # not the predictable default seed


@pytest.mark.parametrize("url", ["ftp://portal.example", "portal.example", "http://portal.example:99999",
                                 "https://portal.example/?x=1"])
def test_a_bad_public_url_is_one_line_and_exit_2(tmp_path, url):
    import subprocess

    from portal_testkit import PYTHON, REPO

    db = tmp_path / "portal.db"
    r = subprocess.run([PYTHON, "-m", "mfa_harness.server", "--port", "0", "--db", str(db), "--public-url", url],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--public-url" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not db.exists()
