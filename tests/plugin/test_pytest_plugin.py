"""The pytest plugin's fixtures, used as a developer would.

The README's examples are read from README.md and run as they are, in a fresh project folder
(only the installed plugin, no conftest), by a pytest subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_harness.scenarios.pytest_plugin import VERIFY_REASONS
from mfa_harness.server.handlers import MESSAGES

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_python_blocks() -> list[str]:
    section = README.read_text(encoding="utf-8").split("\n## pytest plugin\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_pytest(folder: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n" + ini)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, timeout=300, cwd=folder)


def test_the_readme_examples_pass_as_written(tmp_path: Path) -> None:
    blocks = readme_python_blocks()
    assert len(blocks) == 2
    for n, block in enumerate(blocks):
        (tmp_path / f"test_readme_{n}.py").write_text(block)
    res = run_pytest(tmp_path)
    assert res.returncode == 0 and "2 passed" in res.stdout, res.stdout + res.stderr


def test_fixtures_are_documented_and_namespaced(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, "--fixtures")
    assert res.returncode == 0, res.stderr
    listed = {m.group(1): m.group(2) for m in re.finditer(r"^(mfa_\w+)(?: \[[^\]]*\])? -- .*\n((?:    .*\n)+)",
                                                            res.stdout, re.M)}
    assert {"mfa_stack", "mfa_portal", "mfa_inbox", "mfa_clock"} <= set(listed), res.stdout
    assert not any("no docstring available" in doc for doc in listed.values()), listed
    # the generic names are not injected into every session that has the harness installed
    assert not re.search(r"^(portal|inbox|clock)\b", res.stdout, re.M), res.stdout
    short = run_pytest(tmp_path, "--fixtures", ini="mfa_short_names = true\n")
    assert all(re.search(rf"^{name}\b", short.stdout, re.M) for name in ("portal", "inbox", "clock")), short.stdout


def test_documented_reasons_are_the_portals() -> None:
    assert set(VERIFY_REASONS) <= set(MESSAGES)
    readme = README.read_text(encoding="utf-8")
    assert all(f"`{reason}`" in readme for reason in VERIFY_REASONS)


def test_a_module_scoped_stack_serves_several_tests_with_their_own_mail(tmp_path: Path) -> None:
    (tmp_path / "test_shared.py").write_text('''
seen = {}

def test_first(mfa_stack, mfa_portal, mfa_inbox):
    seen["url"] = mfa_stack.portal_url
    user = mfa_stack.take("reseller")
    ref = mfa_portal.login(user["username"], user["password"]).ref
    seen["code"] = mfa_inbox.wait_code(user["notification_email"], ref=ref)
    seen["to"] = user["notification_email"]
    mfa_inbox.set_faults({"kind": "spam"})

def test_second(mfa_stack, mfa_inbox):
    assert mfa_stack.portal_url == seen["url"]                 # the same processes
    assert mfa_inbox.faults()["rules"] == []                   # the first test's faults were cleared
    assert mfa_inbox.wait(f"to:{seen['to']}", timeout=0.5) is None   # its mail is not this test's
    other = mfa_stack.take("agency")
    assert other["username"] != seen["to"]
''')
    res = run_pytest(tmp_path, ini="mfa_stack_scope = module\n")
    assert res.returncode == 0 and "2 passed" in res.stdout, res.stdout + res.stderr
    bad = run_pytest(tmp_path, ini="mfa_stack_scope = class\n")
    assert bad.returncode != 0 and "mfa_stack_scope = 'class'" in bad.stdout + bad.stderr


def test_clock_fixture_expires_a_code(mfa_stack, mfa_portal, mfa_inbox, mfa_clock):
    user = mfa_stack.accounts_of("reseller")[0]
    ref = mfa_portal.login(user["username"], user["password"]).ref
    code = mfa_inbox.wait_code(user["notification_email"], ref=ref)
    before = mfa_clock.now()
    assert mfa_clock.advance(301) >= 301
    assert mfa_clock.now() - before >= 301                  # the portal's clock, jump included
    assert mfa_clock.timebase.st() < before + 60            # the stack's clock without the jump
    assert mfa_portal.verify(code).reason == "expired"
    assert mfa_portal.account().page != "partner-account"


def test_set_faults_spam_and_bad_rules(mfa_stack, mfa_portal, mfa_inbox):
    user = mfa_stack.take("reseller")
    mfa_inbox.set_faults({"kind": "spam", "to": user["notification_email"]})
    ref = mfa_portal.login(user["username"], user["password"]).ref
    with pytest.raises(TimeoutError):
        mfa_inbox.wait_code(user["notification_email"], ref=ref, timeout=2)
    assert mfa_inbox.wait_code(user["notification_email"], ref=ref, folder="spam")
    with pytest.raises(ValueError, match="delay"):
        mfa_inbox.set_faults({"kind": "delay"})


@pytest.mark.mfa_bugs("code-not-bound")
def test_marker_plants_a_bug(mfa_stack, mfa_inbox):
    alice, bob = mfa_stack.team(2)
    a, b = mfa_stack.browser(), mfa_stack.browser()
    ref_a = a.login(alice["username"], alice["password"]).ref
    mfa_inbox.wait_code(alice["notification_email"], ref=ref_a)
    ref_b = b.login(bob["username"], bob["password"]).ref
    code_b = mfa_inbox.wait_code(bob["notification_email"], ref=ref_b)
    # With the planted bug, a code opens any login attempt of the same account: Bob's code from
    # his first attempt opens a second one (the correct portal answers "wrong").
    b2 = mfa_stack.browser()
    b2.login(bob["username"], bob["password"])
    assert b2.verify(code_b).page == "partner-account"
    events = [e["event"] for e in mfa_stack.events()]
    assert "portal_started" in events


@pytest.mark.mfa_policy(max_codes_per_challenge=2)
def test_policy_marker(mfa_stack, mfa_portal, mfa_clock):
    user = mfa_stack.accounts_of("reseller")[0]
    mfa_portal.login(user["username"], user["password"])   # code 1
    assert mfa_portal.resend().reason == "rate_limited"     # within the 30 s cooldown
    mfa_clock.advance(31)
    assert mfa_portal.resend().reason is None               # code 2
    mfa_clock.advance(31)
    assert mfa_portal.resend().reason == "rate_limited"     # the policy's cap of 2 codes
