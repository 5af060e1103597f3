"""django-two-factor-auth + django-otp's email device, driven end to end through its stock pages.

Every marker, field and URL asserted here is a fact tests/targets/README.md gives the harness's
profile (loadtests/profiles/django-two-factor.toml). Where the library departs from the seed's
policy (codes per device, not per login; no resend button; a new login within the cooldown
sends nothing and reuses the pending code) the test asserts the departure, so a library update
that changes it shows up here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sitekit import ROOT, Browser, Inbox, Profile, forms_of, need_library, text_of

from mfa_harness.loadtests.accounts import load_file

need_library("two_factor")

SITE = "django_2fa"
P = Profile("django-two-factor")      # the draft profile: its facts are what these tests check
LOGIN = P.paths["login"]
THROTTLED = "Verification temporarily disabled because of 1 failed attempt, please try again soon."
CODE_SUBJECT = P.data["mail"]["code_subject"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(start_target: Any) -> tuple[str, list[dict[str, Any]]]:
    return start_target(SITE)


def partner(accounts: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return [a for a in accounts if a["program"] != "affiliate"][n]


def sign_in(url: str, acc: dict[str, Any]) -> tuple[Browser, Any]:
    """The stock wizard's first step; the answer is the code page for a partner."""
    b = Browser(url)
    page = b.get(LOGIN)
    form = forms_of(page.text)[0]
    assert P.page(page) == "login"
    assert form.action == "" and form.fields["login_view-current_step"] == "auth"   # posts to itself
    assert P.fields["xsrf"] in form.fields
    user, password = P.fields["username"], P.fields["password"]
    return b, b.submit(page, user, {user: acc["username"], password: acc["password"]})


def code_mail(inbox: Inbox, acc: dict[str, Any], after: int) -> tuple[str, dict[str, Any]]:
    mail = inbox.wait(acc["notification_email"], after, P.data["mail"]["code_query"])
    assert mail is not None, f"no code mail to {acc['notification_email']}"
    assert mail["Subject"] == CODE_SUBJECT
    code = P.code_in(inbox.text(mail))
    assert code and code == mail["Code"]                      # the profile's regex and the inbox agree
    return code, mail


def enter(b: Browser, page: Any, code: str) -> Any:
    return b.submit(page, P.fields["code"], {P.fields["code"]: code})


def test_ready_line_and_accounts_file_the_harness_reads(site: Any, start_target: Any, tmp_path: Any) -> None:
    url, accounts = site
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    programs = [a["program"] for a in accounts]
    assert programs.count("affiliate") == 2 and len(programs) == 10
    team = [a for a in accounts if a["team"]]
    assert len(team) == 3 and len({a["notification_email"] for a in team}) == 1
    assert all(a["notification_email"] != a["username"] for a in team)
    path = tmp_path / "accounts.json"
    path.write_text(__import__("json").dumps(accounts))
    assert len(load_file(path)) == 10                         # the harness's own accounts loader


def test_partner_signs_in_with_the_emailed_code(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = partner(accounts, 3)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    assert page.url.endswith(LOGIN) and P.page(page) == "verify" and P.paths["verify"] == LOGIN
    token_form = forms_of(page.text)[0]
    assert token_form.fields["login_view-current_step"] == "token" and "token-otp_token" in token_form.fields
    assert token_form.buttons == [("wizard_goto_step", "auth")]    # "Back"; there is no resend button
    code, mail = code_mail(target_inbox, acc, after)
    assert [t["Address"] for t in mail["To"]] == [acc["notification_email"]]
    wrong = enter(b, page, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 200 and P.reason(wrong) == "wrong" and P.page(wrong) == "verify"
    time.sleep(1.5)      # the library's back-off after one wrong code is 1 s (OTP_EMAIL_THROTTLE_FACTOR=1)
    done = enter(b, wrong, code)
    assert done.url == url + P.paths["account"] and P.page(done) == "account"
    assert [h.headers["Location"] for h in done.history] == ["/", "/account/"]   # LOGIN_REDIRECT_URL, then ours
    b3, p3 = sign_in(url, acc)                  # success reset the cooldown: a new login mails a new code
    code_mail(target_inbox, acc, mail["Seq"])
    assert P.reason(enter(b3, p3, code)) == "wrong"           # the used code is gone


def test_bad_password_and_unverified_access(site: Any) -> None:
    url, accounts = site
    acc = partner(accounts, 4)
    b, page = sign_in(url, {**acc, "password": "not-the-password"})
    assert P.reason(page) == "generic_error" and P.page(page) == "login"
    assert b.get(P.paths["account"]).url == url + LOGIN + "?next=/account/"


def test_team_codes_go_to_the_shared_address(site: Any, target_inbox: Inbox) -> None:
    """EmailDevice.email is 'an alternative email address to send tokens to': a team shares one."""
    url, accounts = site
    first, second = [a for a in accounts if a["team"]][:2]
    after = target_inbox.seq()
    b1, p1 = sign_in(url, first)
    c1, m1 = code_mail(target_inbox, first, after)
    b2, p2 = sign_in(url, second)
    c2, m2 = code_mail(target_inbox, second, m1["Seq"])
    assert target_inbox.text(m1).strip() == c1               # the mail names nobody: only the code
    assert P.reason(enter(b2, p2, c1)) == "wrong"             # a teammate's code is refused
    time.sleep(1.5)
    assert P.page(enter(b2, p2, c2)) == "account"
    assert P.page(enter(b1, p1, c1)) == "account"


def test_new_login_within_the_cooldown_sends_nothing_and_reuses_the_pending_code(
        site: Any, target_inbox: Inbox) -> None:
    """Codes belong to the device, not to a login (OTP_EMAIL_COOLDOWN_DURATION, default 60 s)."""
    url, accounts = site
    acc = partner(accounts, 5)
    after = target_inbox.seq()
    b1, p1 = sign_in(url, acc)
    code, mail = code_mail(target_inbox, acc, after)
    b2, p2 = sign_in(url, acc)
    assert P.page(p2) == "verify"                             # the page says a mail was sent ...
    assert target_inbox.wait(acc["notification_email"], mail["Seq"], timeout=3) is None   # ... none was
    assert P.page(enter(b2, p2, code)) == "account"           # the first login's code opens the second
    assert P.reason(enter(b1, p1, code)) == "wrong"           # and is then used up


def test_affiliate_signs_in_without_a_code(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = next(a for a in accounts if a["program"] == "affiliate")
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    assert page.url == url + P.paths["affiliate_dashboard"] and P.page(page) == "affiliate_dashboard"
    assert [h.headers["Location"] for h in page.history] == ["/", "/affiliate/"]
    assert target_inbox.wait(acc["notification_email"], after, timeout=2) is None
    assert b.get(P.paths["account"]).url == url + LOGIN + "?next=/account/"   # otp_required: no device


def test_forgot_password_reset_then_sign_in(site: Any, target_inbox: Inbox) -> None:
    url, accounts = site
    acc = [a for a in accounts if a["team"]][2]               # reset mail goes to user.email, not the team's
    after = target_inbox.seq()
    b = Browser(url)
    page = b.get(P.paths["forgot_password"])
    assert P.page(page) == "forgot_password"
    assert forms_of(page.text)[0].action is None               # no action attribute: posts to itself
    sent = b.submit(page, P.fields["forgot_username"], {P.fields["forgot_username"]: acc["email"]})
    assert sent.url == url + "/password_reset/done/" and "We’ve emailed you instructions" in text_of(sent.text)
    mail = target_inbox.wait(acc["email"], after, P.data["mail"]["reset_query"])
    assert mail is not None and mail["Subject"].startswith(P.data["mail"]["reset_subject"])
    link = P.mail_regex("reset_link_regex").search(target_inbox.text(mail))
    assert link, target_inbox.text(mail)
    form_page = b.get(link.group(1))
    assert re.search(r"/reset/[^/]+/set-password/$", form_page.url)   # the token moves to the session
    assert P.page(form_page) == "reset_password"
    new = "Fresh-pass-4821"
    done = b.submit(form_page, P.fields["new_password"], {P.fields["new_password"]: new, "new_password2": new})
    assert done.url == url + "/reset/done/" and "Your password has been set." in text_of(done.text)
    assert P.reason(Browser(url).get(link.group(1))) == "bad_token"
    assert P.reason(sign_in(url, acc)[1]) == "generic_error"
    assert P.page(sign_in(url, {**acc, "password": new})[1]) == "verify"


@pytest.fixture(scope="module")
def quick_site(site: Any, start_target: Any) -> tuple[str, list[dict[str, Any]]]:
    """A second instance on the same database: 2 s codes, no cooldown, a 60 s back-off factor."""
    return start_target(SITE, "--code-validity", "2", "--cooldown", "0", "--throttle-factor", "60")


def test_short_lifetime_expires_and_a_new_login_mails_a_new_code(quick_site: Any, target_inbox: Inbox) -> None:
    url, accounts = quick_site
    acc = partner(accounts, 6)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    code, mail = code_mail(target_inbox, acc, after)
    while time.time() < mail["Received"] + 3:                   # past the 2 s lifetime (no event to await)
        time.sleep(0.2)
    assert P.reason(enter(b, page, code)) == "wrong"          # expired reads exactly like wrong
    b2, p2 = sign_in(url, acc)                                  # cooldown 0: the new login mails a new code
    code2, mail2 = code_mail(target_inbox, acc, mail["Seq"])
    assert mail2["Seq"] > mail["Seq"]


def test_throttle_refuses_even_the_right_code(quick_site: Any, target_inbox: Inbox) -> None:
    url, accounts = quick_site
    acc = partner(accounts, 7)
    after = target_inbox.seq()
    b, page = sign_in(url, acc)
    code, mail = code_mail(target_inbox, acc, after)
    wrong = enter(b, page, "000000" if code != "000000" else "111111")
    assert P.reason(wrong) == "wrong"
    throttled = enter(b, wrong, code)
    assert THROTTLED in text_of(throttled.text)
    assert P.reason(throttled) == "rate_limited" and P.page(throttled) == "verify"
    b2, p2 = sign_in(url, acc)                                  # the back-off is the device's, not the login's
    code2, _ = code_mail(target_inbox, acc, mail["Seq"])
    assert P.reason(enter(b2, p2, code2)) == "rate_limited"


def test_bad_options_are_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", f"tests.targets.{SITE}", "--smtp-port", "x"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--smtp-port" in proc.stderr and "Traceback" not in proc.stderr


def test_serves_concurrent_requests(site: Any) -> None:
    """waitress threads: parallel page loads and both affiliates signing in at once, no 5xx."""
    url, accounts = site
    affiliates = [a for a in accounts if a["program"] == "affiliate"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(lambda _: Browser(url).get(LOGIN).status_code, range(16)))
        landed = list(pool.map(lambda a: P.page(sign_in(url, a)[1]), affiliates))
    assert pages == [200] * 16 and landed == ["affiliate_dashboard"] * 2
