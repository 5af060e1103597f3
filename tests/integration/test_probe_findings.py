"""The probe before a target run: a portal that misbehaves is a finding the run goes on to judge, a
profile that cannot read the portal is a problem that stops the run.

The reference portal with a planted bug stands for a foreign portal with that bug: its pages are
all recognised by the reference profile, only the flow goes wrong (an affiliate challenged, a right
code answered with the sign-in page, a reset that signs in, a redirect loop, the code mailed to the
username). Refusing such a run would hide exactly what the checker is for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mfa_harness.harness_http import PortalHarness
from mfa_harness.loadtests.profile import load_profile
from mfa_harness.scenarios import bugmap
from mfa_harness.scenarios.probe import preflight, probe
from mfa_harness.scenarios.stack import LocalStack, StackConfig

pytestmark = pytest.mark.slow
PROFILE = Path(__file__).resolve().parents[2] / "loadtests" / "profiles" / "reference.toml"


def _stack(out: Path, bugs: list[str]) -> Iterator[LocalStack]:
    processes = max((bugmap.PLANTED_BUGS[b].processes for b in bugs), default=1)
    s = LocalStack(StackConfig(out=out, epoch=time.time(), time_scale=60.0, seed=1, partners=24, bugs=bugs,
                               processes=processes))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.mark.parametrize("bug, finding", [
    ("affiliate-challenged", "affiliate: expected affiliate_dashboard, got page verify"),
    ("loop-after-verify", "right code: expected account, got page login"),
    ("mfa-bypass-after-reset", "reset: expected login, got page account"),
    ("per-process-secret", ""),       # which step goes wrong depends on which process answers
    ("wrong-recipient", "code mail: a mail matching 'subject:verification' came"),
])
def test_a_misbehaving_portal_is_a_finding_and_the_run_goes_on(bug: str, finding: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    profile = load_profile(PROFILE)
    for stack in _stack(tmp_path, [bug]):
        accounts = PortalHarness(stack.portal_url).accounts()
        report = probe(stack.portal_url, stack.inbox_url, profile, accounts)
        assert report.problems == [] and not report.ok, report
        assert any(line.startswith(finding) for line in report.findings), report.findings
        assert preflight(stack.portal_url, stack.inbox_url, profile, accounts, 60.0) is None
        assert "probe finding (the run goes on, its checker judges it): " + finding in capsys.readouterr().err


def test_a_profile_that_cannot_read_the_portal_stops_the_run(tmp_path: Path) -> None:
    text = PROFILE.read_text(encoding="utf-8").replace('verify = "partner-verify"', 'verify = "no-such-page"')
    (tmp_path / "wrong.toml").write_text(text, encoding="utf-8")
    profile = load_profile(tmp_path / "wrong.toml")
    for stack in _stack(tmp_path / "stack", []):
        accounts = PortalHarness(stack.portal_url).accounts()
        problem = preflight(stack.portal_url, stack.inbox_url, profile, accounts, 60.0)
        assert problem is not None and "login: expected verify, got page unclassified" in problem, problem
