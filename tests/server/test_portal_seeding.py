"""Seeded accounts (server/seeding.py): reproducible, every kind present, teams share one address."""

from __future__ import annotations

from collections import defaultdict

import pytest

from server.seeding import plan_accounts


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
