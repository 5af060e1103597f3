"""A page the profile cannot classify, seen by real processes: the run saves an example of it, and
`probe` prints it (issue 11). Also: the verdict of a real white-box run names its policy, and
`mfa-harness check` rebuilds the same policy block and examples from the saved files.

The portal is the reference one; the profile is its own with the account page's marker renamed,
so every signed-in answer is a page the profile does not know, as with a foreign portal whose
profile is not right yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from mfa_harness.harness_http import PortalHarness
from mfa_harness.loadtests.profile import PROFILE_DIR
from mfa_harness.scenarios.judged_policy import ANNOUNCED
from mfa_harness.scenarios.stack import LocalStack, StackConfig

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "mfa_harness.scenarios.cli"]
TITLE = "Your partner account · Partner Portal"


@pytest.fixture(scope="module")
def wrong_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (PROFILE_DIR / "reference.toml").read_text(encoding="utf-8")
    assert '\naccount = "partner-account"\n' in text
    path = tmp_path_factory.mktemp("profile") / "wrong-account-marker.toml"
    path.write_text(text.replace('\naccount = "partner-account"\n', '\naccount = "partner-account-v2"\n'),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s = LocalStack(StackConfig(out=tmp_path_factory.mktemp("stack"), epoch=time.time(), time_scale=60.0, seed=1,
                               partners=4))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def test_probe_prints_what_an_unclassified_page_says(stack: LocalStack, wrong_profile: Path, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(PortalHarness(stack.portal_url).accounts()), encoding="utf-8")
    done = subprocess.run([*CLI, "probe", "--target", stack.portal_url, "--inbox-url", stack.inbox_url,
                           "--target-profile", str(wrong_profile), "--accounts-file", str(accounts)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    seen = lines.index("right code: 200 /partner/account -> page unclassified")
    said = lines[seen + 1]
    assert said.startswith(f"  right code: the page says HTTP 200 /partner/account, title {TITLE!r}: "), said
    assert "Signed in as" in said and "<" not in said.split(": ", 2)[2]
    assert (f"mismatch: right code: expected account, got page unclassified at /partner/account (HTTP 200); "
            f"title {TITLE!r}") in done.stderr


def test_a_run_saves_examples_of_unclassified_pages_and_names_its_policy(wrong_profile: Path,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run([*CLI, "run", "smoke", "--target-profile", str(wrong_profile), "--duration", "120",
                           "--out", str(out)], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, (done.stdout[-3000:], done.stderr[-3000:])   # too many unclassified pages
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    answers = verdict["server_answers"]
    assert answers["unclassified"] > 0 and any("--max-error-share" in p for p in verdict["problems"])
    example = answers["unclassified_examples"][0]
    assert example["path"] == "/partner/account" and example["status"] == 200
    excerpt = example["excerpt"]
    assert excerpt["title"] == TITLE and "Signed in as" in excerpt["text"] and "<" not in excerpt["text"]
    assert len(json.dumps(excerpt)) < 2000
    # the same example in unclassified.txt, the report and the console's summary line
    assert f"title {TITLE!r}" in (out / "unclassified.txt").read_text(encoding="utf-8")
    report = (out / "report.html").read_text(encoding="utf-8")
    assert TITLE in report and "Policy judged against" in report
    summary = next(line for line in done.stdout.splitlines() if line.startswith("  portal answers:"))
    assert f"unclassified page(s) in {answers['steps']} steps; e.g." in summary and TITLE in summary
    # white box: the reference portal announced its policy; the checker's own rules are its defaults
    policy = verdict["policy"]
    assert policy["source"] == ANNOUNCED and policy["white_box"] is True
    assert policy["rules"]["code_ttl"] == {"value": 300.0, "from": ANNOUNCED}
    assert policy["rules"]["codes_repeat"] == {"value": False, "from": "reference default"}
    props = {p.get("name"): p.get("value") for p in ET.parse(out / "junit.xml").iter("property")}
    assert props["policy.source"] == ANNOUNCED and props["policy.code_ttl"] == f"300.0 ({ANNOUNCED})"
    # `check` rebuilds the verdict from the saved files: the same policy and the same examples
    again = subprocess.run([*CLI, "check", str(out)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    rebuilt = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    assert rebuilt["policy"] == policy
    assert rebuilt["server_answers"]["unclassified_examples"] == answers["unclassified_examples"]
