"""Each planted bug observably changes behaviour (the correct behaviour is tested elsewhere)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from portal_testkit import Browser, concurrent_verify, page_of, reason_of, sign_in


def start(portal_factory, sink, *bugs: str, extra: tuple[str, ...] = ()):
    args = [a for bug in bugs for a in ("--bug", bug)]
    portal = portal_factory(sink.port, *args, *extra)
    started = [e for e in portal.events() if e["event"] == "portal_started"]
    assert started and set(started[0]["bugs"]) == set(bugs)
    return portal


def events(portal, name: str) -> list[dict]:
    return [e for e in portal.events() if e["event"] == name]


def test_code_reuse(sink, portal_factory):
    portal = start(portal_factory, sink, "code-reuse")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    saved = dict(b.s.cookies)
    assert b.verify(code).status_code == 303
    replay = Browser(portal.url)
    replay.s.cookies.update(saved)
    assert replay.verify(code).status_code == 303
    oks = events(portal, "verify_ok")
    assert len(oks) == 2 and oks[0]["code_id"] == oks[1]["code_id"]


def test_race_on_verify(sink, portal_factory):
    portal = start(portal_factory, sink, "race-on-verify")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    assert concurrent_verify(portal, b, code).count(303) > 1
    assert len(events(portal, "verify_ok")) > 1


def test_no_expiry(sink, portal_factory):
    portal = start(portal_factory, sink, "no-expiry")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    portal.advance(500)
    assert b.verify(code).status_code == 303


def test_expiry_off_by_minutes(sink, portal_factory):
    portal = start(portal_factory, sink, "expiry-off-by-minutes")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    portal.advance(420)
    assert b.verify(code).status_code == 303


def test_early_expiry(sink, portal_factory):
    portal = start(portal_factory, sink, "early-expiry")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    portal.advance(90)
    r = b.verify(code)
    assert r.status_code == 400 and reason_of(r) == "expired"


def test_wrong_recipient(sink, portal_factory):
    portal = start(portal_factory, sink, "wrong-recipient")
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    assert b.login(acct["username"], acct["password"]).status_code == 303
    sink.wait_code(acct["username"])
    assert events(portal, "code_issued")[0]["recipient"] == acct["username"]


def test_no_resend_limit(sink, portal_factory):
    portal = start(portal_factory, sink, "no-resend-limit")
    b, _, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    for _ in range(7):
        assert b.post("/partner/verify/resend", xsrf_from="/partner/verify").status_code == 303
    assert len(events(portal, "resend_allowed")) == 7 and not events(portal, "resend_refused")


def test_code_not_bound(sink, portal_factory):
    portal = start(portal_factory, sink, "code-not-bound")
    acct = portal.accounts("agency")[0]
    a, code_a, _ = sign_in(portal, sink, acct)
    b, code_b, _ = sign_in(portal, sink, acct)
    assert b.verify(code_a).status_code == 303
    ok = events(portal, "verify_ok")[0]
    assert ok["challenge_id"] == 2 and ok["code_id"] == 1


def test_loop_after_verify(sink, portal_factory):
    portal = start(portal_factory, sink, "loop-after-verify")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    r = b.verify(code)
    assert r.status_code == 303 and "pp_session" not in r.headers.get("Set-Cookie", "")
    assert b.get("/partner/account").headers["Location"] == "/partner/login"


def test_per_process_secret(sink, portal_factory):
    portal = start(portal_factory, sink, "per-process-secret", extra=("--processes", "2"))
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    assert b.login(acct["username"], acct["password"]).status_code == 303
    cookies = dict(b.s.cookies)

    def visit(_: int) -> str:
        r = requests.get(portal.url + "/partner/verify", cookies=cookies, allow_redirects=False,
                         timeout=60, headers={"Connection": "close"})
        return page_of(r) or r.headers.get("Location")

    # Bursts of parallel connections: while one process serves a request the other accepts the
    # next. One at a time, a busy 2-core machine can let the same process win every accept.
    pages: set[str] = set()
    with ThreadPoolExecutor(8) as pool:
        for _ in range(30):
            pages.update(pool.map(visit, range(8)))
            if len(pages) > 1:
                break
    assert pages == {"partner-verify", "/partner/login"}


def test_affiliate_challenged(sink, portal_factory):
    portal = start(portal_factory, sink, "affiliate-challenged")
    aff = portal.accounts("affiliate")[0]
    b = Browser(portal.url)
    r = b.post("/affiliate/login", {"username": aff["username"], "password": aff["password"]})
    assert r.status_code == 303 and r.headers["Location"].startswith("/partner/verify")
    assert events(portal, "challenge_created")[0]["program"] == "affiliate"


def test_mfa_bypass(sink, portal_factory):
    portal = start(portal_factory, sink, "mfa-bypass")
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    assert b.login(acct["username"], acct["password"]).status_code == 303
    r = b.get("/partner/account")
    assert r.status_code == 200 and page_of(r) == "partner-account"
    assert events(portal, "account_served")[0]["mfa"] is False


def test_no_attempt_limit(sink, portal_factory):
    portal = start(portal_factory, sink, "no-attempt-limit")
    b, code, _ = sign_in(portal, sink, portal.accounts("agency")[0])
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    assert {reason_of(b.verify(wrong)) for _ in range(8)} == {"wrong"}
    assert b.verify(code).status_code == 303


def test_outbox_no_retry(sink, portal_factory):
    portal = start(portal_factory, sink, "outbox-no-retry", extra=("--time-scale", "20"))
    sink.handler.replies = ["451 4.3.0 try again later"]
    acct = portal.accounts("agency")[0]
    b = Browser(portal.url)
    assert b.login(acct["username"], acct["password"]).status_code == 303
    failed = portal.wait_event(lambda e: e["event"] == "email_failed")
    assert failed["reason"] == "permanent" and sink.count() == 0
