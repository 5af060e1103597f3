"""`mfa-harness probe` against the two real third-party sites with their shipped profiles.

The probe drives the sites with the personas' own client (PortalClient: forms found by field,
empty action or button, static and confirm fields; InboxClient: the profile's code regex), so a
green probe is the proof that the shipped profiles make the sites drivable. A profile with a
wrong form field must fail with a line naming the page and what was looked for, not a bare POST.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sitekit import ROOT, Inbox, need_library

from mfa_harness.loadtests.profile import PROFILE_DIR

pytestmark = pytest.mark.slow


def probe(url: str, inbox: Inbox, profile: Path, accounts: list[dict[str, Any]], tmp: Path) -> subprocess.CompletedProcess:
    acc = tmp / "accounts.json"
    acc.write_text(json.dumps(accounts), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "probe", "--target", url, "--inbox-url", inbox.url,
                           "--target-profile", str(profile), "--accounts-file", str(acc)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_probe_is_green_on_django_two_factor(start_target: Any, target_inbox: Inbox, tmp_path: Path) -> None:
    need_library("two_factor")
    url, accounts = start_target("django_2fa")
    done = probe(url, target_inbox, PROFILE_DIR / "django-two-factor.toml", accounts, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "login: 200 /account/login/ -> page verify (contains 'name=\"login_view-current_step\" value=\"token\"')" in out
    assert "wrong code: 200 /account/login/ -> page verify" in out and "reason wrong" in out
    assert "right code: 200 /account/ -> page account" in out
    assert "affiliate: 200 /affiliate/ -> page affiliate_dashboard" in out
    assert "reset page: 200 /reset/" in out and "/set-password/ -> page reset_password" in out
    assert "resend" not in out                                  # paths.resend = "none": not attempted
    assert "probe ok: django-two-factor" in out


def test_probe_is_green_on_flask_security(start_target: Any, target_inbox: Inbox, tmp_path: Path) -> None:
    need_library("flask_security")
    url, accounts = start_target("flask_security_site", "--two-factor", "per-user", "--affiliates", "2")
    done = probe(url, target_inbox, PROFILE_DIR / "flask-security.toml", accounts, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "resend: 200 /tf-rescue -> page verify" in out            # static help_setup = "email" sent
    assert "reason wrong (contains 'Invalid code')" in out
    assert "right code: 200 /account -> page account" in out
    assert "affiliate: 200 /affiliate -> page affiliate_dashboard" in out
    assert "reset: 200 /login -> page login" in out                   # password_confirm filled in
    assert "probe ok: flask-security" in out
    # the same site with a profile naming a code field the page does not have: one clear line, exit 1
    bad = tmp_path / "bad.toml"
    bad.write_text((PROFILE_DIR / "flask-security.toml").read_text(encoding="utf-8")
                   .replace('[forms.verify]\nfield = "code"', '[forms.verify]\nfield = "otp"'), encoding="utf-8")
    done = probe(url, target_inbox, bad, accounts, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mismatch: wrong code: no form with field 'otp', action '/tf-validate' on /tf-rescue (page verify)" \
        in done.stderr, done.stderr
