"""The profiles of the third-party sites load, with their policy in `[policy]`.

The facts in them are checked against the live sites by the site, probe and scenario test
modules; this keeps the files loadable by `mfa_harness.loadtests.profile` and their policy where
the run reads it.
"""

from __future__ import annotations

import pytest

from mfa_harness.loadtests.profile import PROFILE_DIR, load_profile


@pytest.mark.parametrize("name", ["django-two-factor", "flask-security"])
def test_target_profile_loads(name: str) -> None:
    profile = load_profile(PROFILE_DIR / f"{name}.toml")
    assert profile.name == name
    assert profile.ref_regex is None                       # neither library shows a per-login reference
    policy = profile.policy
    assert policy["code_lifetime_s"] == 300 and policy["clock_scale"] == 1
    assert {"login", "verify", "reset_password", "logout"} <= set(profile.forms)
    assert profile.forms["reset_password"].confirm_field                  # both ask for the new password twice
