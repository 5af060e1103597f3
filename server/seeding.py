"""Seed accounts with Faker (fixed seed, so a run is reproducible).

Mix: agency teams of 2-4 members sharing one notification address, resellers with their own
address (different from the username), and affiliates. Every account has its own username and
password. Plaintext passwords are kept only for `/_harness/accounts`.
"""

from __future__ import annotations

import random

from faker import Faker

from .passwords import Passwords
from .storage import Store


def plan_accounts(count: int, seed: int) -> list[dict]:
    """The accounts to create: [{program, username, password, notification_email, team}]."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    accounts: list[dict] = []
    used: set[str] = set()
    team_no = 0

    def unique_username(first: str, last: str, domain: str) -> str:
        base = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        name, n = f"{base}@{domain}", 1
        while name in used:
            n += 1
            name = f"{base}{n}@{domain}"
        used.add(name)
        return name

    def password() -> str:
        return fake.password(length=14, special_chars=True, digits=True, upper_case=True, lower_case=True)

    while len(accounts) < count:
        roll = rng.random()
        have = {a["program"] for a in accounts}
        if "agency" not in have:  # every seeded population has each kind, whatever the seed
            roll = 0.0
        elif "reseller" not in have:
            roll = 0.6
        elif "affiliate" not in have:
            roll = 0.9
        elif roll < 0.5 and count - len(accounts) < 2:
            roll = 0.6  # no room left for a team of two: a reseller instead
        domain = fake.unique.domain_name()
        if roll < 0.5:
            team_no += 1
            team = f"team-{team_no}"
            shared = f"mfa-codes@{domain}"
            reserve = len({"reseller", "affiliate"} - have)  # keep room for the kinds still missing
            size = max(2, min(rng.randint(2, 4), count - len(accounts) - reserve))
            for _ in range(min(size, count - len(accounts))):
                accounts.append({"program": "agency", "username": unique_username(fake.first_name(), fake.last_name(), domain),
                                 "password": password(), "notification_email": shared, "team": team})
        elif roll < 0.8:
            user = unique_username(fake.first_name(), fake.last_name(), domain)
            accounts.append({"program": "reseller", "username": user, "password": password(),
                             "notification_email": f"notify+{user.split('@')[0]}@{domain}", "team": None})
        else:
            user = unique_username(fake.first_name(), fake.last_name(), domain)
            accounts.append({"program": "affiliate", "username": user, "password": password(),
                             "notification_email": user, "team": None})
    return accounts


def seed_accounts(store: Store, passwords: Passwords, count: int, seed: int) -> int:
    """Create the accounts unless the database already has partners; returns how many exist."""
    if store.partner_count() > 0 or count <= 0:
        return store.partner_count()
    planned = plan_accounts(count, seed)
    hashes = list(passwords.pool.map(passwords.hash_sync, [a["password"] for a in planned]))
    with store.tx():
        for account, hashed in zip(planned, hashes, strict=True):
            store.add_partner(account["program"], account["username"], hashed, account["password"],
                              account["notification_email"], account["team"])
    return store.partner_count()
