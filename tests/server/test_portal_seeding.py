"""Seeded accounts (server/seeding.py): reproducible, every kind of the mix present, teams share one address."""

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict

import pytest
from portal_testkit import PYTHON, REPO, start_portal

from mfa_harness.server.population import Mix
from mfa_harness.server.seeding import plan_accounts


@pytest.mark.parametrize("count", [4, 12, 200])
def test_plan_is_reproducible_and_mixed(count):
    plan = plan_accounts(count, 11)
    assert plan == plan_accounts(count, 11) and plan != plan_accounts(count, 12)
    assert len(plan) == count
    assert {a["program"] for a in plan} == {"agency", "reseller", "affiliate"}
    assert len({a["username"].lower() for a in plan}) == count
    assert len({a["password"] for a in plan}) == count
    teams = defaultdict(list)
    for a in plan:
        if a["program"] == "agency":
            teams[a["team"]].append(a)
        else:
            assert a["team"] is None
        if a["program"] == "reseller":
            assert a["notification_email"] != a["username"]
    for members in teams.values():
        assert 2 <= len(members) <= 4
        assert len({m["notification_email"] for m in members}) == 1
        assert all(m["notification_email"] != m["username"] for m in members)
    addresses = {a["notification_email"] for a in plan if a["program"] == "reseller"}
    assert len(addresses) == len([a for a in plan if a["program"] == "reseller"])


def test_default_mix_shares_are_the_products():
    plan = plan_accounts(2000, 3)
    share = {k: sum(a["program"] == k for a in plan) / len(plan) for k in ("agency", "reseller", "affiliate")}
    # agency teams are drawn with probability 0.5 but hold ~3 members each
    assert share["agency"] > share["reseller"] > share["affiliate"] > 0.05, share


@pytest.mark.parametrize(("mix", "count", "kinds"), [
    (Mix(agency=0, reseller=1, affiliate=0), 7, {"reseller"}),
    (Mix(agency=0, reseller=0, affiliate=2), 3, {"affiliate"}),
    (Mix(agency=1, reseller=0, affiliate=0, team_min=3, team_max=5), 40, {"agency"}),
    (Mix(agency=1, reseller=1, affiliate=0, team_min=1, team_max=1), 20, {"agency", "reseller"}),
])
def test_mix_and_team_size_shape_the_population(mix, count, kinds):
    plan = plan_accounts(count, 5, mix)
    assert len(plan) == count and {a["program"] for a in plan} == kinds
    teams = defaultdict(list)
    for a in plan:
        if a["program"] == "agency":
            teams[a["team"]].append(a)
    sizes = sorted(len(m) for m in teams.values())
    # every team is within the range, except that the last one may be cut short by `count`
    assert all(mix.team_min <= s <= mix.team_max for s in sizes[1:]), sizes
    assert all(s <= mix.team_max for s in sizes)


@pytest.mark.parametrize(("args", "words"), [
    (["--mix", "agency=x"], "weight of agency must be a number"),
    (["--mix", "bank=1"], "PROGRAM one of agency, reseller, affiliate"),
    (["--mix", "agency=0,reseller=0"], "at least one program needs a weight > 0"),
    (["--mix", "agency=-1,reseller=1"], "numbers >= 0"),
    (["--mix", "agency=nan"], "numbers >= 0"),
    (["--team-size", "4-2"], "1 <= MIN <= MAX <= 50"),
    (["--team-size", "two"], "team size must be N or MIN-MAX"),
])
def test_bad_mix_or_team_size_exits_2_with_one_line(tmp_path, args, words):
    db = tmp_path / "portal.db"
    r = subprocess.run([PYTHON, "-m", "mfa_harness.server", "--port", "0", "--partners", "3", "--db", str(db), *args],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not db.exists()


def test_portal_seeds_the_mix_it_is_given(tmp_path, sink):
    portal = start_portal(tmp_path, sink.port, "--mix", "agency=1", "--team-size", "3", partners=9)
    try:
        accounts = portal.accounts()
        assert {a["program"] for a in accounts} == {"agency"} and len(accounts) == 9
        assert sorted(Counter(a["notification_email"] for a in accounts).values()) == [3, 3, 3]
    finally:
        portal.stop()
