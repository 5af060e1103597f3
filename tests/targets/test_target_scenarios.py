"""The catalogue scenarios that apply to each real third-party site, black box, at time scale 1.

Which apply: every scenario whose personas the profile can serve and whose nemesis needs nothing
but the inbox. Django has no resend (`paths.resend = "none"`), so `probes`, `resend-storm` and
`validation` are refused up front, naming the persona and the missing feature; `clock-jump` and
`notification-change` need the reference portal's `/_harness` endpoints and `portal-restart` the
portal the run starts itself, so both sites refuse them. The rest run here shortened (seconds, a
handful of users), or by hand at full length (README "Target mode").

Each run must pass: no invariant invalid, no run problem, thresholds met: no false alarm on
correct software. Where a library departs from the seed's policy and the run shows it, the
departure is asserted from the history (a finding, declared in the profile's [policy], not hidden
by loosening a check). Every run gets its own site on a fresh database (a second or two): the
libraries keep state across runs that would spill into the next one (django-otp's back-off and
code cooldown per device, passwords the forgot-password users changed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sitekit import ROOT, Inbox, need_library, start_site

from mfa_harness.loadtests.profile import PROFILE_DIR

pytestmark = pytest.mark.slow

DJANGO = ("django_2fa", "django-two-factor", "two_factor", ())
FLASK = ("flask_security_site", "flask-security", "flask_security", ("--two-factor", "per-user", "--affiliates", "2"))


@dataclass
class Run:
    done: subprocess.CompletedProcess
    out: Path
    accounts: list[dict[str, Any]]

    @property
    def verdict(self) -> dict[str, Any]:
        return json.loads((self.out / "verdict.json").read_text(encoding="utf-8"))

    def ops(self, op: str, persona: str | None = None) -> list[dict[str, Any]]:
        """Completions of `op` in the client history (of one persona's users when given), each with
        its invoke's arguments as `args` (one operation at a time per history process)."""
        invoked: dict[str, dict[str, Any]] = {}
        out = []
        for line in (self.out / "client-history.jsonl").open(encoding="utf-8"):
            r = json.loads(line)
            if r.get("op") != op or (persona is not None and r.get("persona") != persona):
                continue
            if r.get("type") == "invoke":
                invoked[r["proc"]] = r.get("value") or {}
            else:
                out.append({**r, "args": invoked.pop(r["proc"], {})})
        return out


def harness_run(url: str, inbox: Inbox, profile: str, accounts: list[dict[str, Any]], tmp: Path,
                scenario: str | Path, *options: str) -> Run:
    acc = tmp / "accounts.json"
    acc.write_text(json.dumps(accounts), encoding="utf-8")
    out = tmp / "run"
    done = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", str(scenario), "--target", url,
                           "--inbox-url", inbox.url, "--target-profile", str(PROFILE_DIR / f"{profile}.toml"),
                           "--accounts-file", str(acc), "--time-scale", "1", "--out", str(out), "--quiet", *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    return Run(done, out, accounts)


@pytest.fixture
def drive(target_inbox: Inbox, tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """`drive(site, scenario, duration, users)`: a fresh site, the scenario run against it; the site stops after."""
    children = []

    def run(site: tuple[str, str, str, tuple[str, ...]], scenario: str | Path, duration: int, users: int) -> Run:
        module, profile, library, options = site
        need_library(library)
        child, accounts = start_site(module, tmp_path, target_inbox, tmp_path / "site.db", *options)
        children.append(child)
        return harness_run(child.ready["url"], target_inbox, profile, accounts, tmp_path, scenario,
                           "--duration", str(duration), "--users", str(users))

    try:
        yield run
    finally:
        codes = [child.stop() for child in children]
    assert codes == [0] * len(codes), codes


def assert_clean(run: Run, findings: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """The run passed, or failed only with the library's known `findings`: invariant -> the personas
    whose operations every one of its examples shows. Never a run problem, a 5xx or an unread page."""
    assert (run.out / "verdict.json").exists(), (run.done.returncode, run.done.stderr[-3000:])
    verdict = run.verdict
    invalid = {k: v["examples"][:2] for k, v in verdict["invariants"].items() if v["valid"] is False}
    assert set(invalid) == set(findings or {}) and not verdict["problems"], (invalid, verdict["problems"])
    for name, personas in (findings or {}).items():
        for example in verdict["invariants"][name]["examples"]:
            shown = {line.get("persona") for line in example if line.get("src") == "client"}
            assert shown and shown <= personas, (name, example)
    assert run.done.returncode == (1 if findings else 0), (verdict["thresholds"], run.done.stderr[-3000:])
    assert verdict["metrics"]["logins_ok"] > 0
    assert verdict["server_answers"]["server_errors"] == 0 and verdict["server_answers"]["unclassified"] == 0
    return verdict


# ---- django-two-factor-auth + django-otp email device ----------------------------------------

@pytest.mark.parametrize("scenario", ["probes", "resend-storm", "validation"])
def test_django_refuses_scenarios_that_need_a_resend(target_inbox: Inbox, tmp_path: Path, scenario: str) -> None:
    """Refused before any request: no site is needed to say so."""
    need_library("two_factor")
    run = harness_run("http://127.0.0.1:9", target_inbox, "django-two-factor", [
        {"partner_id": 1, "program": "agency", "username": "a@x.example", "password": "p",
         "notification_email": "a@x.example"}], tmp_path, scenario)
    assert run.done.returncode == 2 and not run.out.exists(), run.done.stderr
    assert f"the scenario cannot run against django-two-factor: {'resend-mixer' if scenario == 'probes' else 'resend-stormer'}" \
        f" needs resend" in run.done.stderr, run.done.stderr


def test_django_login_loop(drive: Callable[..., Run]) -> None:
    """Cookie-less browsers reach Django's CSRF page, second tabs and direct-URL visits (which restart
    the wizard: one bounce to sign-in) get in after waiting out the code cooldown; no loop."""
    run = drive(DJANGO, "login-loop", 20, 8)
    verdict = assert_clean(run)
    assert verdict["invariants"]["no_login_loops"]["valid"] is True
    assert {r["value"].get("reason") for r in run.ops("login", "cookie-less")} == {"cookies_blocked"}
    # The library's pacing, met by the users: a second tab or a sign-in after a bounce, while a code
    # is pending, mails nothing for 60 s (they wait it out instead of waiting for a mail in vain), and
    # a right code typed during the back-off after a teammate's wrong one is typed again after it.
    outcomes = {(r["persona"], r["value"]["outcome"]) for r in run.ops("flow")}
    assert {o for _, o in outcomes} <= {"ok", "cookies_blocked"}, outcomes
    assert {("second-tab", "ok"), ("direct-url", "ok")} <= outcomes, outcomes
    assert not [r for r in run.ops("read_code") if r["type"] != "ok" and not r["args"].get("purpose")]


def test_django_brute_force(drive: Callable[..., Run]) -> None:
    """No wrong-code limit (a departure): guessers meet django-otp's back-off instead, which the
    checker is told (`wrong_code_limit = "none"`); the right code after it still opens the login."""
    run = drive(DJANGO, "brute-force", 20, 4)
    verdict = assert_clean(run)
    reasons = [r["value"].get("reason") for r in run.ops("verify", "code-guesser") if r["type"] == "fail"]
    assert "wrong" in reasons and "too_many" not in reasons, reasons
    assert "rate_limited" in reasons, reasons                     # the back-off, never a hard limit
    by_user: dict[str, list[dict[str, Any]]] = {}
    for r in run.ops("verify", "code-guesser"):
        by_user.setdefault(r["proc"], []).append(r)
    retried = [b for tries in by_user.values() for a, b in zip(tries, tries[1:], strict=False)
               if a["value"].get("reason") == "rate_limited" and b["args"]["code"] == a["args"]["code"]]
    assert retried, "a guess refused during the back-off was not typed again after it"
    assert verdict["invariants"]["attempt_limits"]["guesses"]["successes"] == 0


def test_django_forgot_password(drive: Callable[..., Run]) -> None:
    """Reset by the stock views (token in the path, the new password twice), then MFA again."""
    run = drive(DJANGO, "forgot-password", 20, 4)
    assert_clean(run)
    assert [r for r in run.ops("reset_password", "forgot-password") if r["type"] == "ok"]
    assert [r for r in run.ops("verify", "forgot-password") if r["type"] == "ok"]


# ---- Flask-Security-Too, email two-factor ------------------------------------------------------

def test_flask_probes(drive: Callable[..., Run]) -> None:
    """The probing users, black box. Findings (real, reproduced by hand; README "Target mode"):
    - `mfa_required` INVALID: a session cookie copied before logout still opens the account after
      it (Flask's client-side signed session: logout clears the browser's copy, nothing server-side);
    - `single_use` INVALID: "back" to the pending login after logout, the used code is accepted
      again (TOTP codes in their window, no last-used store; the pending state is in the cookie too).
    Departures the profile declares and the run shows without alarm: a used code opens a second
    login (replayer), and after a resend the older code still opens the login (resend-mixer)."""
    run = drive(FLASK, "probes", 25, 8)
    verdict = assert_clean(run, findings={"mfa_required": {"session-reuser"},
                                          "single_use": {"session-reuser", "replayer"}})
    assert verdict["invariants"]["affiliates"]["valid"] is True
    assert verdict["invariants"]["single_use"]["code_repeats"]["allowed_by_policy"] is True
    reused = [r for r in run.ops("access_account", "session-reuser") if r["args"].get("after_logout")]
    assert reused and all(r["type"] == "ok" for r in reused), [r["value"] for r in reused]
    replays = [r for r in run.ops("verify", "replayer") if r["args"].get("source") == "replay"]
    assert replays and all(r["type"] == "ok" for r in replays), [r["value"] for r in replays]
    mixed = [r for r in run.ops("verify", "resend-mixer") if r["type"] == "ok"]
    assert mixed, "no resend-mixer got in"


def test_flask_resend_storm(drive: Callable[..., Run]) -> None:
    """No resend cooldown and no cap (departures): every resend of the storm is answered and mailed."""
    run = drive(FLASK, "resend-storm", 20, 4)
    verdict = assert_clean(run)
    resends = run.ops("resend", "resend-stormer")
    assert resends and all(r["type"] == "ok" for r in resends), [r["value"] for r in resends if r["type"] != "ok"]
    assert verdict["invariants"]["resend_limits"]["resends_without_mail"]["count"] == 0


def test_flask_brute_force(drive: Callable[..., Run]) -> None:
    """No wrong-code limit and no back-off (a departure): every guess is answered "Invalid code"."""
    run = drive(FLASK, "brute-force", 20, 4)
    verdict = assert_clean(run)
    reasons = {r["value"].get("reason") for r in run.ops("verify", "code-guesser") if r["type"] == "fail"}
    assert reasons == {"wrong"}, reasons
    assert verdict["invariants"]["attempt_limits"]["guesses"]["successes"] == 0


def test_flask_login_loop(drive: Callable[..., Run]) -> None:
    run = drive(FLASK, "login-loop", 20, 8)
    verdict = assert_clean(run)
    assert verdict["invariants"]["no_login_loops"]["valid"] is True
    assert {r["value"].get("reason") for r in run.ops("login", "cookie-less")} == {"cookies_blocked"}


def test_flask_smtp_outage_bounces_once_without_a_loop(drive: Callable[..., Run], tmp_path: Path) -> None:
    """`smtp-outage` shortened to seconds: while the inbox refuses connections the library sends
    nothing and answers the sign-in with 302 back to /login, "Failed to send code. Please try again
    later" (no outbox, no retry: a departure). That post/redirect/get is one bounce with a message,
    never a login loop (it was one, a false alarm, before the redirect rule knew forms)."""
    scenario = tmp_path / "outage.toml"
    scenario.write_text('name = "smtp-outage-short"\ndescription = "smtp-outage in seconds"\nseed = 31\n'
                        'time_scale = 1\nduration = 20\n[load]\nusers = 3\n[personas]\ncareful = 2\npatient = 1\n'
                        '[[faults]]\nkind = "outage"\nstart = 0\nend = 8\n', encoding="utf-8")
    run = drive(FLASK, scenario, 20, 3)
    verdict = assert_clean(run)
    assert verdict["invariants"]["no_login_loops"]["valid"] is True
    refused = [r for r in run.ops("login") if r["type"] == "fail" and r["value"].get("page") == "login"]
    assert refused and all(r["value"]["chain"] == ["/login", "/login"] for r in refused), refused
