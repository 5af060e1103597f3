"""Target profiles: the shipped ones load, bad ones are refused with the key named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mfa_harness.loadtests.profile import (
    DEFAULT_PROFILE,
    PROFILE_DIR,
    ProfileError,
    load_profile,
    profile_from_dict,
)


def reference() -> dict:
    return tomllib.loads(DEFAULT_PROFILE.read_text(encoding="utf-8"))


def test_the_reference_profile_reads_the_reference_markers() -> None:
    p = load_profile()
    assert p.name == "reference" and p.paths["verify"] == "/partner/verify" and p.fields["xsrf"] == "_xsrf"
    assert p.page_of('<body data-page="cookies-blocked">') == "cookies_blocked"
    assert p.page_of('<body data-page="something-new">') is None
    assert p.reason_of('<p data-reason="generic_login">') == "generic_error"
    assert p.reason_of('<p data-reason="rate_limited">') == "rate_limited"
    assert p.ref_of('<span data-ref="ZX81ZX81">') == "ZX81ZX81"
    mail = "Your verification code is: 042917\nRequest reference: ZX81ZX81\nRequested by: a@b.c"
    assert p.code_in(mail) == "042917" and p.mail_ref_in(mail) == "ZX81ZX81"
    link = p.reset_link_regex.search("open http://h/partner/reset-password?token=abc-123 now")
    assert link is not None and link.group(1) == "/partner/reset-password?token=abc-123"


def test_the_example_profile_recognises_pages_by_substrings() -> None:
    p = load_profile(PROFILE_DIR / "example-other-portal.toml")
    assert p.paths["login"] == "/signin" and p.fields["code"] == "otp"
    assert p.page_of("<h1>Enter the code we emailed you</h1>") == "verify"
    assert p.reason_of("<p>Too many requests, wait a minute</p>") == "rate_limited"
    assert p.code_in("Your one-time code is 123456.") == "123456"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("paths"), "missing table [paths]"),
    (lambda d: d["paths"].pop("verify"), "missing paths.verify"),
    (lambda d: d["paths"].update(verify="partner/verify"), "paths.verify must start with '/'"),
    (lambda d: d["paths"].update(nonsense="/x"), "unknown key paths.nonsense"),
    (lambda d: d["fields"].update(code=""), "fields.code must be a non-empty string"),
    (lambda d: d["pages"].pop("verify"), "must say how to recognise: verify"),
    (lambda d: d["pages"].update(lobby="x"), "unknown pages name 'lobby'"),
    (lambda d: d["reasons"].update(sad="x"), "unknown reasons name 'sad'"),
    (lambda d: d["mail"].update(code_regex="(unclosed"), "mail.code_regex is not a valid regular expression"),
    (lambda d: d["mail"].pop("code_regex"), "mail.code_regex must be a non-empty regular expression"),
])
def test_bad_profiles_are_refused_naming_the_key(change, message: str) -> None:
    data = reference()
    change(data)
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("(", r"\(")):
        profile_from_dict(data, "bad.toml")


def test_unreadable_or_invalid_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read target profile"):
        load_profile(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ProfileError, match="is not valid TOML"):
        load_profile(bad)


def test_pages_and_reasons_take_several_substrings_or_regexes_on_decoded_text() -> None:
    d = reference()
    d["pages"] = {"contains": {"login": ["Sign in", "Connexion"], "verify": "We’ve emailed you",
                               "account": "Partner account", "affiliate_dashboard": "Affiliate home"},
                  "regex": {"error": r"Error \d{3}"}}
    d["reasons"] = {"contains": {"generic_error": ["Invalid password", "Specified user does not exist"]},
                    "regex": {"wrong": "(?i)invalid (code|token)"}}
    p = profile_from_dict(d)
    assert p.page_of("<h1>Connexion</h1>") == "login"
    assert p.page_match("<p>We&rsquo;ve emailed you</p>") == ("verify", "contains 'We’ve emailed you'")
    assert p.page_match("<h1>Error 503</h1>") == ("error", "regex 'Error \\\\d{3}'")
    assert p.page_of("<p>something else</p>") is None
    assert p.reason_of("<li>Specified user does not exist</li>") == "generic_error"
    assert p.reason_of("<li>INVALID Token</li>") == "wrong"
    d["reasons"]["regex"] = {"wrong": "(unclosed"}
    with pytest.raises(ProfileError, match="reasons.regex.wrong is not a valid regular expression"):
        profile_from_dict(d)


def test_forms_static_and_confirm_fields_and_none_paths_are_read() -> None:
    d = reference()
    d["paths"]["resend"] = "none"
    d["forms"] = {"reset_password": {"field": "new_password1", "action": "", "confirm_field": "new_password2",
                                     "static": {"step": "token"}}}
    p = profile_from_dict(d)
    spec = p.form("reset_password")
    assert spec is not None and spec.action == "" and spec.confirm_field == "new_password2"
    assert spec.static == (("step", "token"),) and not p.has("resend") and p.has("forgot_password")
    d["paths"]["login"] = "none"
    with pytest.raises(ProfileError, match="paths.login must start with '/'"):
        profile_from_dict(d)
    d["paths"]["login"] = "/partner/login"
    d["forms"] = {"signin": {"field": "x"}}
    with pytest.raises(ProfileError, match="unknown form forms.signin"):
        profile_from_dict(d)
    d["forms"] = {"login": {"feild": "x"}}
    with pytest.raises(ProfileError, match="unknown key forms.login.feild"):
        profile_from_dict(d)


def test_the_profile_policy_feeds_the_checker_and_the_time_rule() -> None:
    from mfa_harness.scenarios.probe import UNLIMITED, checker_policy, time_problem

    flask = load_profile(PROFILE_DIR / "flask-security.toml")
    policy, source = checker_policy(flask)
    assert policy["codes_repeat"] is True and policy["resend"] == "keep" and policy["resend_cooldown"] == 0.0
    assert policy["max_attempts"] == UNLIMITED and source.endswith("flask-security.toml [policy]")
    assert time_problem(flask, 1.0) is None and "policy.clock_scale = 1" in (time_problem(flask, 30.0) or "")
    d = reference()
    d.pop("policy")
    bare = profile_from_dict(d)
    assert checker_policy(bare) == ({}, "reference defaults (assumed: the profile declares no [policy])")
    assert "declares no clock scale" in (time_problem(bare, 60.0) or "") and time_problem(bare, 1.0) is None
    assert time_problem(load_profile(), 60.0) is None                 # the reference portal follows the harness
    d["policy"] = {"clock_scale": 0}
    with pytest.raises(ProfileError, match="policy.clock_scale must be a number > 0"):
        profile_from_dict(d)


def test_stat_names_group_token_paths_by_pattern() -> None:
    p = load_profile(PROFILE_DIR / "django-two-factor.toml")
    assert p.stat_name("/reset/OA/set-password/") == "/reset/{uidb64}/set-password/"
    assert p.stat_name("/reset/OA/cz1-0f3e9a/") == "/reset/{uidb64}/{token}/"
    assert p.stat_name("/account/") == "/account/" and load_profile().stat_name("/x/y") == "/x/y"
    d = reference()
    d["stat_names"] = ["reset/{token}"]
    with pytest.raises(ProfileError, match="stat_names must be a list of path patterns"):
        profile_from_dict(d)


def test_personas_needing_a_missing_feature_are_refused_by_name() -> None:
    from mfa_harness.scenarios.probe import feature_problem

    django = load_profile(PROFILE_DIR / "django-two-factor.toml")
    problem = feature_problem(django, {"careful": 1, "resend-stormer": 1, "patient": 1})
    assert problem is not None and "resend-stormer needs resend" in problem and "patient" not in problem
    assert feature_problem(django, {"careful": 1, "patient": 1, "resend-stormer": 0}) is None
    assert feature_problem(load_profile(), {"resend-stormer": 1, "affiliate": 1}) is None


def test_mail_retry_within_is_the_reference_outbox_s_schedule_and_none_for_the_libraries() -> None:
    """The reference profile promises what its outbox does (server/policy.py smtp_backoff_max: the
    longest wait between two tries); the real libraries promise nothing, so a lost mail is never blamed."""
    from mfa_harness.scenarios.probe import checker_policy
    from mfa_harness.server.policy import Policy

    assert checker_policy(load_profile())[0]["mail_retry_within"] == Policy().smtp_backoff_max
    for name in ("django-two-factor", "flask-security"):
        assert checker_policy(load_profile(PROFILE_DIR / f"{name}.toml"))[0]["mail_retry_within"] is None
    d = reference()
    for bad in ("30s", -1, True):
        d["policy"] = {"mail_retry_within_s": bad}
        with pytest.raises(ProfileError, match="policy.mail_retry_within_s must be a number >= 0"):
            profile_from_dict(d)


@pytest.mark.parametrize(("name", "repeat"), [("reference", False), ("flask-security", True),
                                              ("django-two-factor", True)])
def test_codes_repeat_says_whether_one_code_may_open_several_logins(name: str, repeat: bool) -> None:
    """What `two-browsers` reads before typing one browser's code in another: a time-based or device
    code (Flask-Security, django-otp) may open several logins, so trying one proves nothing there."""
    assert load_profile(PROFILE_DIR / f"{name}.toml").codes_repeat is repeat


def test_codes_repeat_follows_code_single_use_false_when_codes_repeat_is_unsaid() -> None:
    data = reference()
    data["policy"] = {"code_single_use": False}
    assert profile_from_dict(data).codes_repeat is True
    data["policy"] = {"code_single_use": False, "codes_repeat": False}
    assert profile_from_dict(data).codes_repeat is False
