"""recipient and outbox: bad, good, `info`-only and black-box histories."""

from __future__ import annotations

from histories import History, account, code_of, ref_of

from mfa_harness.checker import CheckContext, check

WB = CheckContext(accounts=[account(1), account(2)])
BB = CheckContext(white_box=False)


def verdict(h: History, name: str, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)[name]


# --- recipient -------------------------------------------------------------------------

def test_recipient_code_to_the_username_address_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.1, 1, 1, recipient="user1@example.com")
    r = verdict(h, "recipient")
    assert r["valid"] is False and r["examples"][0] == [code]


def test_recipient_follows_notification_changes():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.1, 1, 1)
    h.portal(10.0, "notification_changed", partner_id=1, old="team1@example.com", new="new1@example.com", voided=[1])
    h.challenge(20.0, 2)
    stale = h.code(20.1, 2, 2, recipient="team1@example.com")
    h.code(21.0, 2, 3, recipient="new1@example.com", reason="resend")
    r = verdict(h, "recipient")
    assert r["violations"] == 1 and r["examples"] == [[stale]]


def test_recipient_learns_initial_address_from_the_first_change_without_accounts():
    h = History()
    h.challenge(0.0, 1)
    early = h.code(0.1, 1, 1, recipient="other@example.com")
    change = h.portal(10.0, "notification_changed", partner_id=1, old="team1@example.com", new="n@example.com",
                      voided=[])
    r = verdict(h, "recipient", CheckContext())
    assert r["valid"] is False and r["examples"] == [[early, change]]


def test_recipient_unknown_address_without_accounts_is_unknown():
    h = History()
    h.login(0.0, 1, 1)
    assert verdict(h, "recipient", CheckContext())["valid"] == "unknown"


def test_recipient_lost_email_without_injected_drop_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    code = h.code(0.1, 1, 1, deliver=False)
    h.login(200.0, 2, 2, pid=2)                        # the inbox kept working afterwards
    r = verdict(h, "recipient")
    assert r["valid"] is False and r["examples"][0][0] == code


def test_recipient_dropped_by_the_fault_plan_and_delayed_past_the_end_are_fine():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.1, 1, 1, deliver=False)
    h.inbox(0.2, "dropped", "<m1@portal>", ["team1@example.com"], code_of(1), rule=0)
    h.challenge(1.0, 2, pid=2)
    h.code(1.1, 2, 2, pid=2, deliver=False)
    h.inbox(1.2, "delayed", "<m2@portal>", ["team2@example.com"], code_of(2), until_st=500.0, until_wall=500.0)
    h.login(100.0, 3, 3, pid=2)
    assert verdict(h, "recipient")["valid"] is True


def test_recipient_code_mail_the_portal_never_issued_is_invalid():
    h = History()
    h.login(0.0, 1, 1)
    ghost = h.inbox(3.0, "delivered", "<ghost@portal>", ["team1@example.com"], "999999", seq=9, id="g",
                    folder="inbox")
    r = verdict(h, "recipient")
    assert r["valid"] is False and r["examples"] == [[ghost]]


def test_recipient_duplicates_are_counted_not_violations():
    h = History()
    h.login(0.0, 1, 1)
    dup = h.inbox(0.5, "delivered", "<m1@portal>", ["team1@example.com"], code_of(1), seq=7, id="d", folder="inbox")
    r = verdict(h, "recipient")
    assert r["valid"] is True and r["duplicates"] == 1
    assert dup in r["duplicate_examples"][0]


def test_recipient_info_reads_of_a_teammates_mail_do_not_count():
    h = History()
    h.login(0.0, 1, 1)
    h.op(2.0, "read_code", "info", flow="f1", proc="w-1", result={"message_id": "<zz@portal>", "code": "1"})
    assert verdict(h, "recipient")["valid"] is True


def test_recipient_black_box_is_unknown_but_counts_duplicates():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    h.inbox(0.5, "duplicated", "<m1@portal>", ["team1@example.com"], code_of(1), seq=8)
    r = verdict(h, "recipient", BB)
    assert r["valid"] == "unknown" and r["duplicates"] == 1


# --- outbox ----------------------------------------------------------------------------

def _outage_history(retry: bool) -> tuple[History, dict]:
    h = History()
    h.nemesis(5.0, "start", "outage", rule=0)
    h.challenge(10.0, 1)
    code = h.code(10.0, 1, 1, send=False)
    attempt = h.portal(10.1, "email_attempt", outbox_id=1, message_id="<m1@portal>", attempt=1, result="tempfail",
                       smtp_code=421, detail="outage")
    h.nemesis(60.0, "stop", "outage", rule=0)
    if retry:
        h.portal(62.0, "email_sent", outbox_id=1, message_id="<m1@portal>", recipient="team1@example.com",
                 code_id=1)
    h.login(200.0, 2, 2, pid=2)                        # the portal kept logging long after the outage
    return h, {"code": code, "attempt": attempt}


def test_outbox_email_left_queued_after_the_outage_healed_is_invalid():
    h, key = _outage_history(retry=False)
    r = verdict(h, "outbox")
    assert r["valid"] is False and r["examples"][0][0] == key["code"] and key["attempt"] in r["examples"][0]


def test_outbox_email_retried_after_the_outage_is_valid():
    h, _ = _outage_history(retry=True)
    assert verdict(h, "outbox")["valid"] is True


def test_outbox_permanent_failure_after_only_temporary_answers_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1, send=False)
    h.portal(0.1, "email_attempt", outbox_id=1, message_id="<m1@portal>", attempt=1, result="tempfail",
             smtp_code=451, detail="")
    failed = h.portal(0.2, "email_failed", outbox_id=1, message_id="<m1@portal>", recipient="team1@example.com",
                      code_id=1, reason="permanent")
    r = verdict(h, "outbox")
    assert r["valid"] is False and r["examples"][0][-1] == failed


def test_outbox_email_still_in_an_open_outage_or_just_queued_is_pending_not_a_violation():
    h = History()
    h.nemesis(0.0, "start", "tempfail", rule=0)
    h.challenge(1.0, 1)
    h.code(1.0, 1, 1, send=False)
    h.login(20.0, 2, 2, pid=2)
    r = verdict(h, "outbox")
    assert r["valid"] is True and r["pending_at_end"] == 1


def test_outbox_client_info_operations_are_irrelevant():
    h, _ = _outage_history(retry=True)
    h.op(70.0, "resend", "info", flow="f1", proc="w-1", args={"ref": ref_of(1)})
    assert verdict(h, "outbox")["valid"] is True


def test_outbox_black_box_code_page_and_mail_is_valid():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    r = verdict(h, "outbox", BB)
    assert r["valid"] is True and r["checked"] == 1 and r["codes_never_came"]["count"] == 0


def _never_came(h: History, waited: float) -> tuple:
    h.op(0.0, "login", "ok", result={"ref": None, "landed": "/partner/verify", "page": "verify"})
    return h.op(1.0, "read_code", "fail", args={"query": "to:team1@example.com"}, result={"reason": "timeout"},
                took=waited)


def test_outbox_black_box_code_that_never_came_within_the_window_is_invalid():
    h = History()
    read = _never_came(h, 300.0)
    r = verdict(h, "outbox", BB)
    assert r["valid"] is False and r["examples"] == [list(read)] and r["codes_never_came"]["count"] == 1


def test_outbox_black_box_code_that_never_came_under_a_fault_is_counted_not_blamed():
    h = History()
    _never_came(h, 300.0)
    h.nemesis(0.0, "start", "drop")
    r = verdict(h, "outbox", BB)
    assert r["valid"] is True and r["codes_never_came"] == {
        "count": 1, "shorter_waits": 0, "window_st": 300.0, "explained_by_faults": True}


def test_outbox_black_box_a_wait_shorter_than_the_window_proves_nothing():
    h = History()
    _never_came(h, 60.0)
    r = verdict(h, "outbox", BB)
    assert r["valid"] is True and r["codes_never_came"]["shorter_waits"] == 1


def test_recipient_reset_mail_is_not_an_unexpected_code():
    h = History()
    h.login(0.0, 1, 1)
    h.portal(2.0, "email_queued", outbox_id=9, message_id="<r9@portal>", recipient="team1@example.com",
             kind="reset", code_id=None)
    h.inbox(2.5, "delivered", "<r9@portal>", ["team1@example.com"], "424242", seq=9, id="r", folder="inbox")
    assert verdict(h, "recipient")["valid"] is True


def test_recipient_matches_portal_and_inbox_message_ids_with_or_without_angle_brackets():
    h = History()
    h.challenge(0.0, 1)
    h.code(0.1, 1, 1, deliver=False)
    h.inbox(0.2, "received", "m1@portal", ["team1@example.com"], code_of(1), size=9)
    h.inbox(0.3, "delivered", "m1@portal", ["team1@example.com"], code_of(1), seq=1, id="a", folder="inbox")
    h.login(200.0, 2, 2, pid=2)
    assert verdict(h, "recipient")["valid"] is True


# --- black box: the accounts file names the notification addresses ------------------------------

BBA = CheckContext(white_box=False, accounts=[account(1), account(2, program="reseller")])


def _asked(h: History, t: float, user: str = "user1@example.com") -> None:
    h.op(t, "login", "ok", user=user, result={"ref": None, "landed": "/partner/verify", "page": "verify"})


def test_black_box_code_mail_to_the_askers_notification_address_is_valid():
    h = History()
    _asked(h, 0.0)
    h.inbox(0.5, "delivered", "<m1@p>", ["team1@example.com"], "123456")
    r = verdict(h, "recipient", BBA)
    assert r["valid"] is True and r["checked"] == 1


def test_black_box_code_mail_to_the_askers_username_is_invalid():
    h = History()
    _asked(h, 0.0)
    line = h.inbox(0.5, "delivered", "<m1@p>", ["user1@example.com"], "123456")
    r = verdict(h, "recipient", BBA)
    assert r["valid"] is False and r["examples"] == [[line]]


def test_black_box_code_mail_to_an_address_no_account_has_is_invalid():
    h = History()
    _asked(h, 0.0)
    line = h.inbox(0.5, "delivered", "<m1@p>", ["stranger@example.com"], "123456")
    assert verdict(h, "recipient", BBA)["examples"] == [[line]]


def test_black_box_code_mail_to_an_address_support_moved_it_to_is_not_blamed():
    """The accounts file predates the run's change-notification step; the nemesis line names the new address."""
    h = History()
    h.nemesis(0.2, "start", "change-notification", partner_id=1, old="team1@example.com", new="moved-1@new.example")
    _asked(h, 1.0)
    h.inbox(1.5, "delivered", "<m1@p>", ["moved-1@new.example"], "123456")
    r = verdict(h, "recipient", BBA)
    assert r["valid"] is True and r["checked"] == 1


def test_black_box_code_mail_to_an_account_that_did_not_ask_is_counted_not_blamed():
    h = History()
    _asked(h, 0.0)
    h.inbox(0.5, "delivered", "<m1@p>", ["team2@example.com"], "123456")   # user2 never asked (a straggler)
    r = verdict(h, "recipient", BBA)
    assert r["valid"] is True and r["code_mails_unasked"] == 1


def test_black_box_recipient_without_accounts_file_is_unknown():
    h = History()
    _asked(h, 0.0)
    h.inbox(0.5, "delivered", "<m1@p>", ["user1@example.com"], "123456")
    assert verdict(h, "recipient", BB)["valid"] == "unknown"


def test_black_box_reset_mail_without_a_code_is_not_judged():
    h = History()
    h.inbox(0.5, "delivered", "<m1@p>", ["somebody@example.com"], None)
    r = verdict(h, "recipient", BBA)
    assert r["valid"] == "unknown" and r["checked"] == 0


def test_black_box_a_sign_in_with_unknown_outcome_may_have_asked():
    h = History()
    h.op(0.0, "login", "info", user="user2@example.com", result={"reason": "stopped"})
    h.inbox(30.0, "delivered", "<m1@p>", ["team2@example.com"], "123456")
    assert verdict(h, "recipient", BBA)["valid"] is True
