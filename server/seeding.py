"""Seed accounts with Faker (fixed seed, so a run is reproducible).

Mix (default): half agency teams of 2-4 members sharing one notification address, 30 %
resellers with their own address (different from the username), 20 % affiliates; `--mix` and
`--team-size` change it. Every account has its own username and password. Plaintext passwords
are kept only in harness mode, for `/_harness/accounts`.

The seed makes the passwords: anyone who knows it knows them. Harness mode defaults to seed 1
(reproducible runs); outside harness mode the seed is either given (`--seed`) or a generated
secret that is never written anywhere, and the log says which (`seed_choice`).
"""

from __future__ import annotations

import logging
import random
import secrets

from .passwords import Passwords
from .population import Mix
from .storage import Store


def plan_accounts(count: int, seed: int, mix: Mix | None = None) -> list[dict]:
    """The accounts to create: [{program, username, password, notification_email, team}].

    Every program of the mix appears at least once when `count` allows it, whatever the seed.
    """
    from faker import (
        Faker,  # imported here: `python -m mfa_harness.server` checks its options without paying for it
    )

    mix = mix or Mix()
    agency_below, reseller_below = mix.bounds()
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
        missing = [k for k in mix.kinds if k not in have]
        left = count - len(accounts)
        if missing:  # every seeded population has each kind of the mix, whatever the seed
            roll = mix.roll_for(missing[0])
        elif roll < agency_below and left < mix.team_min and len(mix.kinds) > 1:
            # no room left for a whole team: another kind instead
            roll = mix.roll_for(next(k for k in mix.kinds if k != "agency"))
        domain = fake.unique.domain_name()
        if roll < agency_below:
            team_no += 1
            team = f"team-{team_no}"
            shared = f"mfa-codes@{domain}"
            reserve = len(set(mix.kinds) - have - {"agency"})  # keep room for the kinds still missing
            size = max(mix.team_min, min(rng.randint(mix.team_min, mix.team_max), left - reserve))
            for _ in range(min(size, left)):
                accounts.append({"program": "agency", "username": unique_username(fake.first_name(), fake.last_name(), domain),
                                 "password": password(), "notification_email": shared, "team": team})
        elif roll < reseller_below:
            user = unique_username(fake.first_name(), fake.last_name(), domain)
            accounts.append({"program": "reseller", "username": user, "password": password(),
                             "notification_email": f"notify+{user.split('@')[0]}@{domain}", "team": None})
        else:
            user = unique_username(fake.first_name(), fake.last_name(), domain)
            accounts.append({"program": "affiliate", "username": user, "password": password(),
                             "notification_email": user, "team": None})
    return accounts


HARNESS_SEED = 1
SEED_SOURCES = {
    "explicit": "the given --seed (anyone who knows it can derive the passwords)",
    "harness-default": f"the harness default seed {HARNESS_SEED} (public: harness mode only)",
    "generated": "a generated secret seed, not stored (nobody knows the passwords; use --seed to choose them)",
}
log = logging.getLogger("portal")


def seed_choice(given: int | None, harness: bool) -> tuple[int, str]:
    """(seed, source): the given one; else harness mode's public default; else a fresh secret."""
    if given is not None:
        return given, "explicit"
    if harness:
        return HARNESS_SEED, "harness-default"
    return secrets.randbits(63), "generated"


def seed_accounts(store: Store, passwords: Passwords, count: int, seed: int, mix: Mix | None = None,
                  keep_plaintext: bool = True, source: str = "explicit") -> int:
    """Create the accounts unless the database already has partners; returns how many exist.

    `keep_plaintext` (harness mode only) stores each password for `/_harness/accounts`."""
    if store.partner_count() > 0 or count <= 0:
        return store.partner_count()
    planned = plan_accounts(count, seed, mix)
    hashes = list(passwords.pool.map(passwords.hash_sync, [a["password"] for a in planned]))
    with store.tx():
        for account, hashed in zip(planned, hashes, strict=True):
            store.add_partner(account["program"], account["username"], hashed,
                              account["password"] if keep_plaintext else None,
                              account["notification_email"], account["team"])
    log.info("seeded %d accounts from %s; plaintext passwords %s", count, SEED_SOURCES[source],
             "kept for /_harness/accounts" if keep_plaintext else "not stored")
    return store.partner_count()
