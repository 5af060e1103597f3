"""The draft profiles of the third-party sites load in the harness as it is today.

The facts in them are checked against the live sites by the two site test modules; this only
keeps the files loadable by `mfa_harness.loadtests.profile` (the format the next pass extends).
"""

from __future__ import annotations

import pytest

from mfa_harness.loadtests.profile import PROFILE_DIR, load_profile


@pytest.mark.parametrize("name", ["django-two-factor", "flask-security"])
def test_draft_profile_loads(name: str) -> None:
    profile = load_profile(PROFILE_DIR / f"{name}.toml")
    assert profile.name == name
    assert profile.ref_regex is None                       # neither library shows a per-login reference
    policy = profile.extra["policy"]
    assert policy["code_lifetime_s"] == 300 and policy["clock_scale"] == 1
    assert {"login", "verify", "reset_password", "logout"} <= set(profile.forms)
    assert profile.forms["reset_password"].confirm_field                  # both ask for the new password twice
