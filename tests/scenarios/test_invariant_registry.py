"""The invariant registry tells the truth: the evidence each entry claims to need is enough and all needed,
and the invariants it calls not prefix-safe really can be explained away by a later line."""

from __future__ import annotations

import pytest
from histories import History, account

from mfa_harness.checker import INVARIANTS, PREFIX_SAFE, REGISTRY, CheckContext, Evidence, check, valid_label
from mfa_harness.checker.registry import ACCOUNTS, CLIENT, INBOX, PORTAL, Invariant

ACCOUNT_LIST = [account(1), account(2), account(3, "affiliate")]


def full_history() -> list[dict]:
    """Two correct partner logins and an affiliate's, with every kind of evidence: portal, inbox, client."""
    h = History()
    h.login(10.0, 1, 1, pid=1)
    h.login(12.0, 2, 2, pid=2)
    h.portal(20.0, "affiliate_login", partner_id=3, session="aff3")
    h.session(20.0, 3, cid=None, mfa=False, program="affiliate", session="aff3")
    h.op(20.0, "affiliate_login", "ok", persona="affiliate", user="user3@example.com", flow="f3", proc="w-3",
         result={"landed": "/affiliate/dashboard"})
    return h.lines()


def answer(inv: Invariant, keep: set[Evidence], white_box: bool) -> object:
    """The invariant's `valid` on the full history cut down to the evidence in `keep`."""
    lines = [line for line in full_history() if line["src"] in keep]
    ctx = CheckContext(white_box=white_box, accounts=ACCOUNT_LIST if ACCOUNTS in keep else None)
    return check(lines, ctx)[inv.name]["valid"]


def test_entries_are_complete_and_listed_once():
    assert [inv.name for inv in REGISTRY] == list(INVARIANTS)
    for inv in REGISTRY:
        assert inv.name.isidentifier() and callable(inv.check), inv
        assert inv.description and "\n" not in inv.description and len(inv.description) < 140, inv.name
        assert inv.white_box and inv.black_box, inv.name
    assert PREFIX_SAFE == {inv.name for inv in REGISTRY if inv.prefix_safe}


@pytest.mark.parametrize("white_box", [True, False], ids=["white-box", "black-box"])
@pytest.mark.parametrize("inv", REGISTRY, ids=lambda inv: inv.name)
def test_the_evidence_an_invariant_claims_is_enough_and_every_part_is_needed(inv: Invariant, white_box: bool):
    needs = set(inv.needs(white_box))
    assert answer(inv, needs, white_box) is True, f"{inv.name} is not valid from {sorted(needs)} alone"
    for kind in needs:
        if white_box and kind is PORTAL:
            continue            # without portal lines a white-box run is judged as black box
        assert answer(inv, needs - {kind}, white_box) == "unknown", f"{inv.name} decided without {kind}"


def test_missing_names_the_evidence_a_view_lacks():
    recipient = INVARIANTS["recipient"]
    assert recipient.missing(True, {PORTAL, CLIENT}) == [ACCOUNTS, INBOX]
    assert recipient.missing(False, {INBOX, ACCOUNTS, CLIENT}) == []
    assert [e.words for e in INVARIANTS["no_login_loops"].missing(False, set())] == ["the clients' history"]


def _recipient_undone() -> tuple[list[dict], int]:
    """A sent code with no delivery while the inbox shows later mail; then its delivery comes, late."""
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1, deliver=False)
    h.challenge(0.0, 2, pid=2)
    h.code(0.0, 2, 2, pid=2, send=True, deliver=False)
    h.inbox(200.0, "delivered", "<m2@portal>", ["team2@example.com"], "000002")
    cut = len(h.lines())
    h.inbox(250.0, "delivered", "<m1@portal>", ["team1@example.com"], "000001")
    return h.lines(), cut


def _outbox_undone() -> tuple[list[dict], int]:
    """A code mail still queued past the grace; then the outbox sends it."""
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1, send=False)
    h.portal(500.0, "challenge_created", challenge_id=9, ref="R9", partner_id=2, program="agency")
    cut = len(h.lines())
    h.portal(501.0, "email_sent", outbox_id=1, message_id="<m1@portal>", recipient="team1@example.com", code_id=1)
    return h.lines(), cut


def _rejection_undone() -> tuple[list[dict], int]:
    """A live code refused as used; then its concurrent acceptance shows it was indeed used."""
    h = History()
    h.challenge(0.0, 1)
    h.code(0.0, 1, 1)
    h.verify_fail(10.0, 1, "used", code_id=1)
    cut = len(h.lines())
    h.verify_ok(10.0, 1, 1)
    return h.lines(), cut


@pytest.mark.parametrize("name, history", [("recipient", _recipient_undone), ("outbox", _outbox_undone),
                                           ("no_false_rejections", _rejection_undone)])
def test_not_prefix_safe_means_a_later_line_can_explain_a_violation(name, history):
    lines, cut = history()
    ctx = CheckContext(accounts=[account(1), account(2)])
    assert check(lines[:cut], ctx)[name]["valid"] is False          # a live view would show it invalid so far
    assert check(lines, ctx)[name]["valid"] is not False            # and the whole history explains it
    assert name not in PREFIX_SAFE


def test_one_label_for_an_answer():
    assert [valid_label(v) for v in (True, False, "unknown", None, 1)] == ["valid", "invalid", "unknown",
                                                                        "unknown", "unknown"]


def test_outbox_black_box_judges_refused_mail_only_with_the_inbox_and_the_accounts():
    """The claim (client) decides code pages; a code page during an inbox refusal also needs the
    inbox's history and the accounts file (whose mail, did it come): without either, unknown."""
    h = History()
    h.nemesis(5.0, "start", "tempfail", rule=0, code=451)
    h.login(10.0, 1, 1, pid=1, portal=False)
    h.nemesis(60.0, "stop", "tempfail", rule=0, code=451)
    h.login(500.0, 2, 2, pid=2, portal=False)
    ctx = CheckContext(white_box=False, accounts=ACCOUNT_LIST, policy={"mail_retry_within": 30.0})
    assert check(h.lines(), ctx)["outbox"]["valid"] is True
    no_inbox = [line for line in h.lines() if line["src"] != INBOX]
    assert check(no_inbox, ctx)["outbox"]["valid"] == "unknown"
    ctx.accounts = None
    assert check(h.lines(), ctx)["outbox"]["valid"] == "unknown"
