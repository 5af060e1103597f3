"""Policy defaults and TOML overrides (server/policy.py)."""

from __future__ import annotations

import pytest

from server.policy import Policy, PolicyError, load_policy


def test_defaults_are_the_products():
    p = Policy()
    assert (p.code_lifetime, p.pending_lifetime, p.max_attempts) == (300.0, 600.0, 5)
    assert (p.resend_cooldown, p.max_codes_per_challenge, p.max_codes_per_account_hour, p.resend) == (30.0, 5, 10, "invalidate")


def test_toml_overrides(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('code_lifetime = 120\nresend = "keep"\n')
    p = load_policy(f)
    assert p.code_lifetime == 120.0 and p.resend == "keep" and p.max_attempts == 5
    g = tmp_path / "q.toml"
    g.write_text("[policy]\nmax_attempts = 3\n")
    assert load_policy(g).max_attempts == 3


@pytest.mark.parametrize("text, words", [
    ("colour = 1\n", "unknown policy key 'colour'"),
    ('max_attempts = "five"\n', "must be an integer"),
    ("max_attempts = 2.5\n", "must be an integer"),
    ("code_lifetime = true\n", "must be a number"),
    ('resend = "sometimes"\n', "invalidate"),
    ("code_lifetime = -1\n", "must be > 0"),
    ("code_lifetime = \n", "not valid TOML"),
])
def test_bad_policy_files_are_named(tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=words):
        load_policy(f)


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.toml")
