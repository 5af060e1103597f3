"""Flask-Security-Too with email two-factor, driven end to end through its stock pages.

Every marker, field and URL asserted here is a fact tests/targets/README.md gives the harness's
profile (loadtests/profiles/flask-security.toml). Email codes are TOTP codes of a per-user
secret, accepted within SECURITY_TWO_FACTOR_MAIL_VALIDITY seconds either side: a resend does
not void the earlier code, the same code comes back within one 30-s step, a used code opens a
new login, and wrong codes are unlimited. The tests assert these departures from the seed's
policy, so a library update that changes one shows up here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sitekit import ROOT, Browser, Inbox, Profile, forms_of, need_library, text_of

from mfa_harness.loadtests.accounts import load_file

need_library("flask_security")

SITE = "flask_security_site"
P = Profile("flask-security")         # the draft profile: its facts are what these tests check
CODE_PAGE = "Please enter your authentication code generated via: email"
CONFIRMED = "Your code has been confirmed"
RESENT = "The code for authentication was sent to your email address"
TOTP_STEP = P.data["policy"]["code_step_s"]   # passlib's TOTP period, fixed by Flask-Security

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(start_target: Any) -> tuple[str, list[dict[str, Any]]]:
    return start_target(SITE)


@pytest.fixture(scope="module")
def per_user_site(site: Any, start_target: Any) -> tuple[str, list[dict[str, Any]]]:
    """The same database, second factor per user (affiliates exist), 1-s mail validity."""
    return start_target(SITE, "--two-factor", "per-user", "--affiliates", "2", "--code-validity", "1")


def partner(accounts: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return [a for a in accounts if a["program"] != "affiliate"][n]


def sign_in(url: str, acc: dict[str, Any]) -> tuple[Browser, Any]:
    b = Browser(url)
    page = b.get(P.paths["login"])
    form = forms_of(page.text)[0]
    assert P.page(page) == "login" and form.action == P.paths["login"]
    assert P.fields["xsrf"] in form.fields and form.buttons == [("submit", "Login")]
    user, password = P.fields["username"], P.fields["password"]
    return b, b.submit(page, user, {user: acc["username"], password: acc["password"]})


def code_mail(inbox: Inbox, acc: dict[str, Any], after: int) -> tuple[str, dict[str, Any]]:
    mail = inbox.wait(acc["notification_email"], after, P.data["mail"]["code_query"])
    assert mail is not None, f"no code mail to {acc['notification_email']}"
    assert mail["Subject"] == P.data["mail"]["code_subject"]
    code = P.code_in(inbox.text(mail))
    assert code and code == mail["Code"]                      # the profile's regex and the inbox agree
    return code, mail


def enter(b: Browser, page: Any, code: str) -> Any:
    return b.submit(page, P.fields["code"], {P.fields["code"]: code})


def resend(b: Browser, page: Any) -> Any:
    """The rescue form: radio help_setup=email ("Send code via email"), posted to /tf-rescue."""
    return b.submit(page, "help_setup", {"help_setup": "email"})


def test_ready_line_and_accounts_file(site: Any, tmp_path: Any) -> None:
    url, accounts = site
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert len(accounts) == 8 and all(a["program"] != "affiliate" for a in accounts)
    assert all(a["notification_email"] == a["username"] == a["email"] for a in accounts)   # no shared address
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(accounts))
    assert len(load_file(path)) == 8


def test_partner_signs_in_with_the_emailed_code(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = partner(accounts, 0)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    # without ?next= on the sign-in page, the library puts the sign-in URL itself in `next`
    assert page.url == url + P.paths["verify"] + "?next=" + url + "/login"
    assert P.page(page) == "verify" and CODE_PAGE in text_of(page.text)
    code_form, rescue_form = forms_of(page.text)
    assert code_form.action == "/tf-validate?next=" + quote(url + "/login", safe="/")   # `next`, quoted
    assert set(code_form.fields) == {"csrf_token", "code"} and code_form.buttons == [("submit", "Submit Code")]
    assert rescue_form.action.startswith("/tf-rescue?next=") and rescue_form.radios == {"help_setup": ["help", "email"]}
    code, mail = code_mail(target_inbox, acc, after)
    wrong = enter(b, page, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 200 and P.reason(wrong) == "wrong" and P.page(wrong) == "verify"
    done = enter(b, wrong, code)
    assert done.url == url + P.paths["account"] and CONFIRMED in text_of(done.text) and P.page(done) == "account"
    # to `next` (the sign-in page, which sends a signed-in user to POST_LOGIN_VIEW "/"), then ours
    assert [h.headers["Location"] for h in done.history] == [url + "/login", "/", "/account"]
    out = b.submit(done, P.fields["xsrf"], {})                 # the account page's logout form (POST)
    assert forms_of(done.text)[0].action == P.paths["logout"]
    assert b.get(P.paths["account"]).url == url + "/login?next=/account", out.url


def test_bad_password(site: Any) -> None:
    url, accounts = site
    b, page = sign_in(url, {**partner(accounts, 1), "password": "not-the-password"})
    assert page.url == url + "/login" and P.reason(page) == "generic_error" and P.page(page) == "login"


def test_resend_mails_again_and_keeps_the_first_code_valid(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = partner(accounts, 2)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    first, mail = code_mail(target_inbox, acc, after)
    again = resend(b, page)
    assert urlsplit(again.url).path == P.paths["resend"] and P.page(again) == "verify" and RESENT in text_of(again.text) and CODE_PAGE in text_of(again.text)
    second, mail2 = code_mail(target_inbox, acc, mail["Seq"])
    assert mail2["Seq"] > mail["Seq"]
    # within one 30-s TOTP step the "new" code is the same one
    if int(mail["Received"]) // TOTP_STEP == int(mail2["Received"]) // TOTP_STEP:
        assert second == first
    for _ in range(3):                                          # no resend cooldown or cap
        assert RESENT in text_of(resend(b, again).text)
    assert CONFIRMED in text_of(enter(b, again, first).text)    # the resend did not void the first code


def test_a_used_code_opens_a_new_login_and_wrong_codes_are_unlimited(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = partner(accounts, 3)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    code, mail = code_mail(target_inbox, acc, after)
    assert CONFIRMED in text_of(enter(b, page, code).text)
    b2, page2 = sign_in(url, acc)
    code_mail(target_inbox, acc, mail["Seq"])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(12):
        page2 = enter(b2, page2, wrong)
        assert P.reason(page2) == "wrong"
    assert CONFIRMED in text_of(enter(b2, page2, code).text)   # replayed, after twelve wrong guesses


def test_forgot_password_reset_then_sign_in(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = partner(accounts, 4)
    after = target_inbox.seq()
    b = Browser(url)
    page = b.get(P.paths["forgot_password"])
    form = forms_of(page.text)[0]
    assert P.page(page) == "forgot_password"
    assert form.action == P.paths["forgot_password"] and form.buttons == [("submit", "Recover Password")]
    sent = b.submit(page, P.fields["forgot_username"], {P.fields["forgot_username"]: acc["email"]})
    assert f"Instructions to reset your password have been sent to {acc['email']}." in text_of(sent.text)
    mail = target_inbox.wait(acc["email"], after, P.data["mail"]["reset_query"])
    assert mail is not None and mail["Subject"] == P.data["mail"]["reset_subject"]
    link = P.mail_regex("reset_link_regex").search(target_inbox.text(mail))
    assert link, target_inbox.text(mail)
    form_page = b.get(link.group(1))
    reset_form = forms_of(form_page.text)[0]
    assert P.page(form_page) == "reset_password" and link.group(1).startswith(P.paths["reset_password"])
    assert reset_form.action == link.group(1) and {"password", "password_confirm"} <= set(reset_form.fields)
    new = "Fresh-pass-4821"
    done = b.submit(form_page, "password_confirm", {P.fields["new_password"]: new, "password_confirm": new})
    assert done.url == url + "/login" and "You successfully reset your password" in text_of(done.text)
    used = Browser(url).get(link.group(1))
    assert used.url == url + "/reset" and P.reason(used) == "bad_token"
    assert P.reason(sign_in(url, acc)[1]) == "generic_error"
    assert P.page(sign_in(url, {**acc, "password": new})[1]) == "verify"


def test_affiliate_signs_in_without_a_code(per_user_site: Any, target_inbox: Inbox) -> None:
    url, accounts = per_user_site
    acc = next(a for a in accounts if a["program"] == "affiliate")
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    assert page.url == url + P.paths["affiliate_dashboard"] and P.page(page) == "affiliate_dashboard"
    assert [h.headers["Location"] for h in page.history] == ["/", "/affiliate"]
    assert target_inbox.wait(acc["notification_email"], after, timeout=2) is None


def test_code_expires_after_its_totp_step(per_user_site: Any, target_inbox: Inbox) -> None:
    """Validity 1 s: a code stays good until its 30-s step is over (plus the 1-s window), then not."""
    url, accounts = per_user_site
    acc = partner(accounts, 5)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    code, mail = code_mail(target_inbox, acc, after)
    step_over = (int(mail["Received"]) // TOTP_STEP + 1) * TOTP_STEP + 2
    while time.time() < step_over:                              # the wall clock has no event to await
        time.sleep(0.5)
    expired = enter(b, page, code)
    assert P.reason(expired) == "wrong"                         # expired reads exactly like wrong


def test_affiliates_need_per_user_two_factor() -> None:
    proc = subprocess.run([sys.executable, "-m", f"tests.targets.{SITE}", "--smtp-port", "25", "--db", "x.db",
                           "--accounts-out", "a.json", "--affiliates", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--affiliates needs --two-factor per-user" in proc.stderr


def test_serves_concurrent_requests(per_user_site: Any) -> None:
    """waitress threads: parallel page loads and both affiliates signing in at once, no 5xx."""
    url, accounts = per_user_site
    affiliates = [a for a in accounts if a["program"] == "affiliate"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(lambda _: Browser(url).get(P.paths["login"]).status_code, range(16)))
        landed = list(pool.map(lambda a: P.page(sign_in(url, a)[1]), affiliates))
    assert pages == [200] * 16 and landed == ["affiliate_dashboard"] * 2
