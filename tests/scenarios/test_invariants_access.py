"""mfa_required and affiliates: bad, good, `info`-only and black-box histories."""

from __future__ import annotations

from histories import History, account

from mfa_harness.checker import CheckContext, check

WB = CheckContext(accounts=[account(1), account(2), account(9, "affiliate")])
BB = CheckContext(white_box=False)


def verdict(h: History, name: str, ctx: CheckContext = WB) -> dict:
    return check(h.lines(), ctx)[name]


# --- mfa_required ----------------------------------------------------------------------

def test_mfa_partner_session_without_verify_is_invalid():
    h = History()
    created = h.challenge(0.0, 1)
    h.code(0.1, 1, 1)
    sess = h.session(1.0, 1, cid=1, mfa=True)          # claims MFA, but no verify_ok
    r = verdict(h, "mfa_required")
    assert r["valid"] is False and r["examples"] == [[created, sess]]


def test_mfa_pending_session_served_account_page_is_invalid():
    h = History()
    h.challenge(0.0, 1)
    served = h.portal(1.0, "account_served", session="pending1", partner_id=1, mfa=False, path="/partner/account")
    r = verdict(h, "mfa_required")
    assert r["valid"] is False and r["examples"] == [[served]]


def test_mfa_verified_sessions_and_affiliate_sessions_are_valid():
    h = History()
    h.login(0.0, 1, 1)
    h.session(3.0, 9, cid=None, mfa=False, program="affiliate", session="aff")
    h.portal(3.1, "account_served", session="aff", partner_id=9, mfa=False, path="/affiliate/dashboard")
    assert verdict(h, "mfa_required")["valid"] is True


def test_mfa_black_box_access_after_info_verify_is_not_a_violation():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": "R1", "landed": "/partner/verify"})
    h.op(2.0, "verify", "info", args={"code": "123456", "ref": "R1"})
    h.op(3.0, "access_account", "ok", result={"status": 200, "mfa": True})
    assert verdict(h, "mfa_required", BB)["valid"] == "unknown"


def test_mfa_black_box_access_without_any_verify_is_invalid():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": "R1", "landed": "/partner/verify"})
    inv, done = h.op(1.0, "access_account", "ok", result={"status": 200, "mfa": True})
    r = verdict(h, "mfa_required", BB)
    assert r["valid"] is False and r["examples"] == [[inv, done]]


def test_mfa_black_box_access_after_failed_verify_and_logout_is_invalid():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    h.op(8.0, "logout", "ok")
    h.op(9.0, "verify", "fail", args={"code": "000000", "ref": "R"}, result={"reason": "wrong"})
    h.op(10.0, "access_account", "ok", result={"status": 200, "mfa": True})
    assert verdict(h, "mfa_required", BB)["valid"] is False


def test_mfa_black_box_normal_login_is_valid_with_its_evidence_counted():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    r = verdict(h, "mfa_required", BB)
    assert r["valid"] is True and r["checked"] == 2          # the sign-in and the account page


def test_mfa_black_box_without_any_step_is_unknown():
    h = History()
    h.op(0.0, "read_code", "fail", result={"reason": "timeout"})
    r = verdict(h, "mfa_required", BB)
    assert r["valid"] == "unknown" and r["checked"] == 0


# --- affiliates ------------------------------------------------------------------------

def test_affiliate_challenged_and_emailed_is_invalid():
    h = History()
    created = h.challenge(0.0, 5, pid=9, program="affiliate")
    code = h.code(0.1, 5, 5, pid=9)
    r = verdict(h, "affiliates")
    assert r["valid"] is False and r["violations"] == 1 and r["examples"] == [[created, code]]


def test_affiliate_challenge_known_only_from_accounts_is_invalid():
    h = History()
    created = h.challenge(0.0, 5, pid=9, program="")
    assert verdict(h, "affiliates")["examples"] == [[created]]


def test_affiliate_logins_without_challenge_are_valid():
    h = History()
    h.login(0.0, 1, 1)
    h.portal(1.0, "affiliate_login", partner_id=9, session="aff")
    assert verdict(h, "affiliates")["valid"] is True


def test_affiliate_black_box_info_login_proves_nothing():
    h = History()
    h.op(0.0, "affiliate_login", "info", persona="affiliate", result={"ref": "R1", "landed": "/partner/verify"})
    assert verdict(h, "affiliates", BB)["valid"] == "unknown"


def test_affiliate_black_box_landing_on_verify_page_is_invalid():
    h = History()
    inv, done = h.op(0.0, "login", "ok", persona="affiliate",
                     result={"ref": "R1", "landed": "/partner/verify", "chain": []})
    r = verdict(h, "affiliates", BB)
    assert r["valid"] is False and r["examples"] == [[inv, done]]


def test_affiliate_black_box_code_mailed_to_affiliate_address_is_invalid():
    h = History()
    mail = h.inbox(1.0, "delivered", "<m1@portal>", ["TEAM9@example.com"], "123456", seq=1, id="a", folder="inbox")
    ctx = CheckContext(white_box=False, accounts=[account(1), account(9, "affiliate")])
    r = verdict(h, "affiliates", ctx)
    assert r["valid"] is False and r["examples"] == [[mail]]


def test_affiliate_black_box_clean_dashboard_login_is_valid():
    h = History()
    h.op(0.0, "affiliate_login", "ok", persona="affiliate", result={"ref": None, "landed": "/affiliate/dashboard"})
    r = verdict(h, "affiliates", BB)
    assert r["valid"] is True and r["checked"] == 1


def test_affiliates_without_any_affiliate_is_unknown_white_box_too():
    h = History()
    h.login(0.0, 1, 1)
    r = verdict(h, "affiliates")
    assert r["valid"] == "unknown" and r["checked"] == 0


# --- black box: any step that lands signed in before a verify ------------------------------------

def test_mfa_black_box_reset_landing_on_the_account_page_is_invalid():
    h = History()
    step = h.op(0.0, "reset_password", "fail", result={"reason": "error", "landed": "/partner/account",
                                                        "page": "account"})
    r = verdict(h, "mfa_required", BB)
    assert r["valid"] is False and r["examples"] == [list(step)]


def test_mfa_black_box_protected_path_served_to_a_pending_session_is_invalid():
    h = History()
    h.op(0.0, "login", "ok", result={"ref": None, "landed": "/partner/verify", "page": "verify"})
    h.op(1.0, "visit", "ok", args={"path": "/partner/account"}, result={"page": "verify", "signed_in": False})
    bad = h.op(2.0, "visit", "ok", args={"path": "/partner/my-account"}, result={"page": "my_account",
                                                                                 "signed_in": True})
    r = verdict(h, "mfa_required", BB)
    assert r["valid"] is False and r["examples"] == [list(bad)] and r["checked"] == 3


def test_mfa_black_box_sign_in_landing_on_the_account_page_is_invalid():
    h = History()
    step = h.op(0.0, "login", "ok", result={"ref": None, "landed": "/partner/account", "page": "account"})
    assert verdict(h, "mfa_required", BB)["examples"] == [list(step)]


def test_mfa_black_box_session_reused_after_logout_is_invalid():
    h = History()
    h.login(0.0, 1, 1, portal=False)
    h.op(10.0, "logout", "ok", result={"landed": "/"})
    bad = h.op(11.0, "access_account", "ok", args={"path": "/partner/account", "after_logout": True},
               result={"page": "account"})
    assert verdict(h, "mfa_required", BB)["examples"] == [list(bad)]


def test_mfa_black_box_affiliate_account_from_accounts_file_is_not_judged():
    h = History()
    h.op(0.0, "login", "ok", persona="careful", user="user9@example.com",
         result={"ref": None, "landed": "/dashboard", "page": "account"})
    ctx = CheckContext(white_box=False, accounts=[account(9, program="affiliate")])
    assert verdict(h, "mfa_required", ctx)["valid"] == "unknown"
