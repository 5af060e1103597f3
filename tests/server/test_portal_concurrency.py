"""Single use under concurrency: N simultaneous submissions of one code give one success."""

from __future__ import annotations

import threading

import pytest
from portal_testkit import Browser, concurrent_verify, sign_in, wait_count


@pytest.mark.parametrize("processes", [1, 2])
def test_twenty_concurrent_submissions_one_success(sink, portal_factory, processes):
    portal = portal_factory(sink.port, "--processes", str(processes))
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    statuses = concurrent_verify(portal, b, code)
    assert statuses.count(303) == 1 and statuses.count(400) == 19
    events = portal.events()
    assert len([e for e in events if e["event"] == "verify_ok"]) == 1
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    if processes == 2:
        assert len({e["pid"] for e in events if e["event"] == "portal_started"}) == 2


def test_clock_offset_shared_by_processes(sink, portal_factory):
    portal = portal_factory(sink.port, "--processes", "2")
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    portal.advance(301)
    # whichever process answers, the code is expired on the shared clock
    statuses = concurrent_verify(portal, b, code, n=6)
    assert statuses == [400] * 6
    reasons = {e["reason"] for e in portal.events() if e["event"] == "verify_fail"}
    assert reasons == {"expired"}


def test_two_processes_send_each_mail_once(sink, portal_factory):
    portal = portal_factory(sink.port, "--processes", "2", partners=30)
    accounts = [a for a in portal.accounts() if a["program"] != "affiliate"]

    def login(acct) -> None:
        assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303

    threads = [threading.Thread(target=login, args=(a,)) for a in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    n = len(accounts)
    sent = wait_count(portal, "email_sent", n)
    attempts = [e for e in portal.events() if e["event"] == "email_attempt"]
    assert sorted(e["outbox_id"] for e in attempts) == list(range(1, n + 1))
    assert sorted(e["outbox_id"] for e in sent) == list(range(1, n + 1))
    ids = [m["Message-ID"] for m in sink.handler.messages]
    assert len(ids) == len(set(ids)) == n


def test_concurrent_wrong_codes_respect_the_attempt_limit(sink, portal_factory):
    portal = portal_factory(sink.port, "--processes", "2")
    acct = portal.accounts("agency")[0]
    b, code, _ = sign_in(portal, sink, acct)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    statuses = concurrent_verify(portal, b, wrong, n=12)
    assert statuses == [400] * 12
    fails = [e for e in portal.events() if e["event"] == "verify_fail"]
    assert [e["reason"] for e in fails].count("wrong") == 4
    assert [e["attempts"] for e in fails if e["reason"] == "wrong"] == [1, 2, 3, 4]
    assert b.verify(code).status_code == 400
