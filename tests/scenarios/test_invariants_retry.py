"""outbox, black box: code mails the inbox refused for a while must come once it takes mail again,
when the target's policy says its outbox retries (`mail_retry_within`); never blamed otherwise.

Time scale 1, so the outbox grace is 120 s: a mail refused in a window ending at 300 s is due by
300 + 30 (the policy) + 120 = 450 s.
"""

from __future__ import annotations

import pytest
from histories import History, account, code_of

from mfa_harness.checker import CheckContext, check

ACCOUNTS = [account(1), account(2)]
RETRY = {"mail_retry_within": 30.0}


def ctx(policy: dict | None = None, accounts: list | None = ACCOUNTS) -> CheckContext:
    return CheckContext(white_box=False, accounts=accounts, policy=RETRY if policy is None else policy)


def outbox(h: History, context: CheckContext | None = None) -> dict:
    return check(h.lines(), context or ctx())["outbox"]


def refusal(h: History, *, second: str = "tempfail", start: float = 100.0, end: float = 300.0) -> None:
    """The smtp-outage shape: connections refused, then 451 at RCPT, back to back."""
    mid = (start + end) / 2
    h.nemesis(start, "start", "outage", rule=0)
    h.nemesis(mid, "stop", "outage", rule=0)
    h.nemesis(mid, "start", second, rule=1, code=451 if second == "tempfail" else 550, stage="rcpt")
    h.nemesis(end, "stop", second, rule=1, code=451 if second == "tempfail" else 550, stage="rcpt")


def sign_in(h: History, t: float, pid: int = 1, typ: str = "ok", flow: str = "f1") -> tuple:
    result = {"ref": None, "landed": "/partner/verify", "page": "verify"} if typ == "ok" else {"reason": "timeout"}
    return h.op(t, "login", typ, user=f"user{pid}@example.com", flow=flow, proc=f"w-{flow}", result=result)


def mail(h: History, t: float, n: int, pid: int = 1) -> None:
    """The inbox accepts (and delivers) code mail number n to partner pid's address at t."""
    rcpt = [f"team{pid}@example.com"]
    h.inbox(t, "received", f"<m{n}@p>", rcpt, code_of(n), size=900)
    h.inbox(t + 0.2, "delivered", f"<m{n}@p>", rcpt, code_of(n), seq=n, id=f"i{n}", folder="inbox")


def later_traffic(h: History, t: float = 600.0) -> None:
    """Another partner signs in and gets mail long after: the run went on past the due time."""
    sign_in(h, t, pid=2, flow="f9")
    mail(h, t + 0.3, 99, pid=2)


def test_a_code_mail_refused_then_never_sent_is_invalid():
    h = History()
    refusal(h)
    inv, done = sign_in(h, 150.0)
    later_traffic(h)
    r = outbox(h)
    assert r["valid"] is False and r["violations"] == 1
    assert r["examples"][0][:2] == [inv, done]
    assert [line["op"] for line in r["examples"][0][2:]] == ["start", "stop"]      # the refusal window
    assert r["mail_retry"]["lost"] == 1 and r["mail_retry"]["within_st"] == 30.0


def test_a_refused_code_mail_that_came_after_the_window_is_valid_and_counted():
    h = History()
    refusal(h)
    sign_in(h, 150.0)
    mail(h, 320.0, 1)                               # retried 20 s after the refusal ended
    later_traffic(h)
    r = outbox(h)
    assert r["valid"] is True and r["checked"] > 0 and r["mail_retry"]["came"] == 1


def test_a_later_sign_in_s_own_mail_does_not_hide_a_lost_one():
    h = History()
    refusal(h)
    sign_in(h, 150.0, flow="f1")
    sign_in(h, 400.0, flow="f2")                    # the same user again, after the window: its own mail
    mail(h, 400.3, 2)
    later_traffic(h)
    assert outbox(h)["violations"] == 1


def test_two_teammates_refused_and_one_mail_after_is_one_violation():
    h = History()
    refusal(h)
    sign_in(h, 150.0, flow="f1")
    sign_in(h, 250.0, flow="f2")
    mail(h, 310.0, 1)
    later_traffic(h)
    r = outbox(h)
    assert r["violations"] == 1 and r["mail_retry"] == {"within_st": 30.0, "came": 1, "lost": 1}


def test_an_accepted_resend_during_the_refusal_is_owed_a_mail_too():
    h = History()
    sign_in(h, 50.0)
    mail(h, 50.2, 1)
    refusal(h)
    h.op(160.0, "resend", "ok", flow="f1", proc="w-f1", args={"ref": None})
    later_traffic(h)
    assert outbox(h)["violations"] == 1


def test_mail_lost_under_a_permanent_refusal_is_not_the_portals_fault():
    h = History()
    refusal(h, second="permfail")
    sign_in(h, 150.0, flow="f1")                    # refused, then its retries meet the 5xx: given up
    sign_in(h, 250.0, flow="f2")                    # in the 5xx half: refused for good
    later_traffic(h)
    r = outbox(h)
    assert r["valid"] is True and not r["violations"]
    assert r["mail_retry"] == {"within_st": 30.0, "explained_by_other_faults": 1}


def test_the_run_ended_before_the_mail_was_due_is_unknown():
    h = History()
    refusal(h)
    sign_in(h, 150.0)
    sign_in(h, 400.0, pid=2, flow="f9")
    mail(h, 400.3, 99, pid=2)                       # the history ends before 450
    r = outbox(h)
    assert r["valid"] == "unknown" and r["mail_retry"]["run_ended_first"] == 1 and not r["violations"]


def test_without_the_policy_a_lost_mail_is_never_blamed():
    h = History()
    refusal(h)
    sign_in(h, 150.0)
    later_traffic(h)
    r = outbox(h, ctx(policy={}))                   # mail_retry_within none: the default
    assert r["valid"] == "unknown" and not r["violations"] and r["mail_retry"]["within_st"] is None


def test_without_the_policy_a_mail_that_came_is_still_fine():
    h = History()
    refusal(h)
    sign_in(h, 150.0)
    mail(h, 900.0, 1)
    later_traffic(h)
    assert outbox(h, ctx(policy={}))["valid"] is True


def test_a_sign_in_of_unknown_outcome_during_the_refusal_is_undecided():
    h = History()
    refusal(h)
    sign_in(h, 150.0, typ="info")
    later_traffic(h)
    r = outbox(h)
    assert r["valid"] == "unknown" and r["mail_retry"]["unknown_outcome"] == 1


def test_a_code_that_expires_before_the_retry_is_due_is_not_judged():
    h = History()
    refusal(h, start=100.0, end=500.0)              # due 530, but the code of 150 expires at 450
    sign_in(h, 150.0)
    later_traffic(h, 900.0)
    r = outbox(h)
    assert r["valid"] is True and r["mail_retry"]["expired_first"] == 1


def test_a_refusal_for_other_recipients_owes_nothing_here():
    h = History()
    h.nemesis(100.0, "start", "tempfail", rule=0, to="team2@*")
    h.nemesis(300.0, "stop", "tempfail", rule=0, to="team2@*")
    sign_in(h, 150.0)
    mail(h, 150.3, 1)
    later_traffic(h)
    assert outbox(h)["valid"] is True


def test_without_accounts_or_inbox_history_a_refused_sign_in_is_undecided():
    h = History()
    refusal(h)
    sign_in(h, 150.0)
    mail(h, 320.0, 1)
    later_traffic(h)
    assert outbox(h, ctx(accounts=None))["valid"] == "unknown"
    no_inbox = [line for line in h.lines() if line["src"] != "inbox"]
    assert check(no_inbox, ctx())["outbox"]["valid"] == "unknown"


def test_a_bad_retry_window_is_a_clear_error():
    with pytest.raises(ValueError, match="mail_retry_within must be a non-negative number or none"):
        CheckContext(policy={"mail_retry_within": "30s"})
