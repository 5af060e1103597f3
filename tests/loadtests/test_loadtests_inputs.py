"""Accounts, harness options, persona decisions and the open-model arrivals (pure parts)."""

from __future__ import annotations

import json
import random
import socket
import statistics
from pathlib import Path

import gevent
import pytest
from loadtests_stack import canned_pages
from locust.argument_parser import get_empty_argument_parser

from mfa_harness.loadtests import decisions
from mfa_harness.loadtests.accounts import AccountPool, AccountsError, load_file, load_url, parse_accounts
from mfa_harness.loadtests.arrivals import Arrivals, poisson_gaps
from mfa_harness.loadtests.options import OptionsError, add_arguments, integer_weights, parse_personas

ROWS = [
    {"partner_id": 1, "program": "agency", "username": "a1@x.com", "password": "pw1", "notification_email": "team@x.com",
     "team": "team-1"},
    {"partner_id": 2, "program": "agency", "username": "a2@x.com", "password": "pw2", "notification_email": "team@x.com",
     "team": "team-1"},
    {"partner_id": 3, "program": "reseller", "username": "r@y.com", "password": "pw3", "notification_email": "r@y.com",
     "team": None},
    {"partner_id": 4, "program": "affiliate", "username": "f@z.com", "password": "pw4", "notification_email": "f@z.com",
     "team": None},
    {"partner_id": 5, "program": "agency", "username": "solo@w.com", "password": "pw5",
     "notification_email": "solo@w.com", "team": None},
]


def test_accounts_from_json_and_csv_files(tmp_path: Path) -> None:
    j = tmp_path / "accounts.json"
    j.write_text(json.dumps(ROWS), encoding="utf-8")
    c = tmp_path / "accounts.csv"
    c.write_text("partner_id,program,username,password,notification_email,team\n"
                 + "\n".join(f"{r['partner_id']},{r['program']},{r['username']},{r['password']},"
                             f"{r['notification_email']},{r['team'] or ''}" for r in ROWS) + "\n", encoding="utf-8")
    from_json, from_csv = load_file(j), load_file(c)
    assert [a.username for a in from_json] == [a.username for a in from_csv] == [r["username"] for r in ROWS]
    assert from_csv[0].team == "team-1" and from_csv[2].team is None


def test_accounts_from_a_url_or_one_line_saying_why_not() -> None:
    """A portal's `/_harness/accounts`, or a foreign URL that answers badly or not at all."""
    pages = {"/ok": (200, json.dumps(ROWS).encode()), "/login": (200, b"<html>sign in</html>")}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/accounts"
    with canned_pages(pages) as base:
        assert [a.username for a in load_url(base + "/ok")] == [r["username"] for r in ROWS]
        for url, why in ((base + "/gone", "answered 404 (no such page)"), (base + "/login", "not JSON: '<html>sign in"),
                         (closed, "no answer (")):
            with pytest.raises(AccountsError) as err:
                load_url(url, timeout=10)
            assert str(err.value).startswith(f"cannot load accounts from {url}: ") and why in str(err.value)
            assert "\n" not in str(err.value) and str(err.value).count(url) == 1       # the URL once, one line


def test_locked_accounts_are_left_out(tmp_path: Path) -> None:
    """The portal's harness list marks accounts support has locked; a user given one could never log in."""
    rows = [dict(r, locked=(r["partner_id"] == 3)) for r in ROWS]
    assert [a.partner_id for a in parse_accounts(rows, "test")] == [1, 2, 4, 5]
    c = tmp_path / "accounts.csv"
    c.write_text("partner_id,program,username,password,notification_email,locked\n"
                 "1,reseller,a@x.com,pw,a@x.com,1\n2,reseller,b@x.com,pw,b@x.com,false\n", encoding="utf-8")
    assert [a.username for a in load_file(c)] == ["b@x.com"]
    with pytest.raises(AccountsError, match="none unlocked"):
        parse_accounts([dict(ROWS[0], locked=True)], "test")


@pytest.mark.parametrize(("data", "message"), [
    ({"nope": 1}, "expected a JSON list"),
    ([], "no accounts"),
    ([{"program": "agency"}], "missing partner_id"),
    ([dict(ROWS[0], program="vip")], "program must be one of"),
    (["x"], "account 1 is not an object"),
])
def test_bad_accounts_are_clear_errors(data: object, message: str) -> None:
    with pytest.raises(AccountsError, match=message):
        parse_accounts(data, "test")


def test_bad_account_files(tmp_path: Path) -> None:
    with pytest.raises(AccountsError, match="cannot read accounts file"):
        load_file(tmp_path / "missing.csv")
    bad = tmp_path / "a.csv"
    bad.write_text("user,pass\nx,y\n", encoding="utf-8")
    with pytest.raises(AccountsError, match="CSV header must name"):
        load_file(bad)


def test_each_account_goes_to_one_user_and_workers_split_them() -> None:
    accounts = parse_accounts(ROWS, "test")
    pool = AccountPool(accounts)
    taken = [pool.take(("agency",)), pool.take(("agency",))]
    assert [a.team for a in taken] == ["team-1", "team-1"]          # team members first: a shared inbox
    assert pool.take(("affiliate",)).username == "f@z.com"
    assert pool.take(("affiliate",)) is None
    assert pool.take(("affiliate", "reseller")).username == "r@y.com"
    w0, w1 = AccountPool(accounts, 0, 2), AccountPool(accounts, 1, 2)
    names = []
    for pool_ in (w0, w1):
        while (a := pool_.take(("agency", "reseller", "affiliate"))) is not None:
            names.append(a.username)
    assert sorted(names) == sorted(r["username"] for r in ROWS)


def test_persona_weights_and_their_errors() -> None:
    known = ["careful", "hasty", "affiliate"]
    assert parse_personas("careful=3, hasty=1,affiliate=0", known) == {"careful": 3.0, "hasty": 1.0, "affiliate": 0.0}
    assert parse_personas("", known) == {}
    for text, message in [("nobody=1", "unknown persona 'nobody'"), ("careful", "must be NAME=WEIGHT"),
                          ("careful=x", "must be a number"), ("careful=-1", "must be >= 0"),
                          ("careful=0,hasty=0", "at least one persona")]:
        with pytest.raises(OptionsError, match=message):
            parse_personas(text, known)
    assert integer_weights({"a": 0.5, "b": 1.5, "c": 0}) == {"a": 1, "b": 3, "c": 0}
    assert integer_weights({"a": 3, "b": 1}) == {"a": 3, "b": 1}


def test_harness_options_show_in_the_web_ui_and_threshold_repeats() -> None:
    parser = get_empty_argument_parser()
    add_arguments(parser)
    for dest in ("inbox_url", "accounts_url", "accounts_file", "time_scale", "epoch", "target_profile",
                 "history_file", "summary_file", "threshold", "personas", "arrival_rate", "code_timeout"):
        assert dest in parser.args_included_in_web_ui, dest
    opts = parser.parse_args(["--threshold", "loops == 0", "--threshold", "login.p95 < 8s", "--time-scale", "30"])
    assert opts.threshold == ["loops == 0", "login.p95 < 8s"] and opts.time_scale == 30.0
    assert parser.parse_args([]).threshold is None


def test_persona_decisions() -> None:
    rng = random.Random(4)
    for _ in range(200):
        code = decisions.random_code(rng)
        assert len(code) == 6 and code.isdigit()
        wrong = decisions.typo(code, rng)
        assert wrong != code and len(wrong) == 6 and sum(a != b for a, b in zip(code, wrong, strict=True)) == 1
    life = decisions.CODE_LIFETIME_ST
    for _ in range(50):
        assert decisions.slow_typer_delay(1, rng) > life                          # flow 1 always misses
        # flow 2: late but valid, with 30 % of the lifetime to spare for a black-box checker's uncertainty
        assert 0.4 * life <= decisions.slow_typer_delay(2, rng) <= 0.7 * life
    later = [decisions.slow_typer_delay(5, rng) for _ in range(200)]
    assert any(d > 300 for d in later) and any(d < 300 for d in later)
    assert decisions.resend_schedule(120, 300, 3) == [120, 120, 60]
    assert decisions.resend_schedule(35, 100, 3) == [35, 35, 30]
    assert decisions.resend_schedule(120, 100, 3) == [100]
    assert len(decisions.resend_schedule(1, 10_000, 3)) == 4                       # bounded by max_resends
    assert decisions.outcome_of_verify("too_many") == "too_many_attempts"
    assert decisions.outcome_of_verify("no_challenge") == "error"


def test_user_rng_repeats_per_seed_persona_and_account() -> None:
    def draws(seed: int | None, persona: str = "careful", user: str = "ann") -> list[float]:
        rng = decisions.user_rng(seed, persona, user)
        return [rng.random() for _ in range(5)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8) and draws(7) != draws(7, user="bob") and draws(7) != draws(7, "hasty")
    assert draws(None) != draws(None)


def test_poisson_gaps_have_the_requested_rate() -> None:
    gen = poisson_gaps(50.0, random.Random(1))
    gaps = [next(gen) for _ in range(5000)]
    assert statistics.mean(gaps) == pytest.approx(1 / 50.0, rel=0.05)
    with pytest.raises(ValueError):
        next(poisson_gaps(0.0, random.Random(1)))


def test_arrivals_start_only_with_an_idle_user_and_count_the_rest_as_dropped() -> None:
    counted: list[str] = []
    arrivals = Arrivals(1.0, seed=1, on_count=counted.append)
    assert arrivals.arrive() is False                           # nobody idle: dropped, not queued
    got: list[bool] = []
    waiter = gevent.spawn(lambda: got.append(arrivals.wait_turn(poll_s=10.0)))
    gevent.sleep(0)
    assert arrivals.idle == 1
    assert arrivals.arrive() is True
    assert arrivals.arrive() is False                           # the one idle user is already served
    waiter.join(timeout=10)
    assert got == [True] and arrivals.started == 1 and arrivals.dropped == 2
    assert counted == ["arrivals_dropped", "arrivals_started", "arrivals_dropped"]
    assert arrivals.wait_turn(poll_s=0.01) is False             # bounded wait


@pytest.mark.parametrize("value", ["1e308", "inf", "20000"])
def test_an_absurd_time_scale_is_refused_while_parsing(value: str, capsys: pytest.CaptureFixture) -> None:
    parser = get_empty_argument_parser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--time-scale", value])
    assert "must be <= 10000" in capsys.readouterr().err


def test_workers_get_an_even_share_of_every_program() -> None:
    # affiliates only at even positions: a split by position alone gives one worker all of them
    rows = []
    for i in range(8):
        program = "affiliate" if i % 2 == 0 else "reseller"
        rows.append({"partner_id": i, "program": program, "username": f"u{i}@x.com", "password": "p",
                     "notification_email": f"u{i}@x.com"})
    accounts = parse_accounts(rows, "test")
    for index in (0, 1):
        pool = AccountPool(accounts, index, 2)
        assert pool.left("affiliate") == 2 and pool.left("reseller") == 2
