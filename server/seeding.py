"""Seed accounts with Faker (fixed seed, so a run is reproducible).

Mix (default): half agency teams of 2-4 members sharing one notification address, 30 %
resellers with their own address (different from the username), 20 % affiliates; `--mix` and
`--team-size` change it. Every account has its own username and password. Plaintext passwords
are kept only for `/_harness/accounts`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from faker import Faker

from .passwords import Passwords
from .storage import Store

PROGRAMS = ("agency", "reseller", "affiliate")
MAX_TEAM = 50


class MixError(ValueError):
    """A `--mix` or `--team-size` that cannot describe a population; the message says why."""


@dataclass(frozen=True)
class Mix:
    """Share of each program among the seeded accounts (weights, normalised here), and the size
    range of agency teams. A program with weight 0 is left out."""

    agency: float = 0.5
    reseller: float = 0.3
    affiliate: float = 0.2
    team_min: int = 2
    team_max: int = 4

    def __post_init__(self) -> None:
        weights = [self.agency, self.reseller, self.affiliate]
        if any(isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0 for w in weights):
            raise MixError(f"program weights must be numbers >= 0, got {dict(zip(PROGRAMS, weights, strict=True))}")
        if sum(weights) <= 0:
            raise MixError("at least one program needs a weight > 0")
        if not 1 <= self.team_min <= self.team_max <= MAX_TEAM:
            raise MixError(f"team size must be MIN-MAX with 1 <= MIN <= MAX <= {MAX_TEAM}, "
                           f"got {self.team_min}-{self.team_max}")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in PROGRAMS if getattr(self, k) > 0)

    def bounds(self) -> tuple[float, float]:
        """Cumulative shares: a roll below the first is an agency team, below the second a reseller."""
        total = self.agency + self.reseller + self.affiliate
        return self.agency / total, (self.agency + self.reseller) / total

    def roll_for(self, kind: str) -> float:
        """A roll that lands in `kind`'s band."""
        a, r = self.bounds()
        return {"agency": 0.0, "reseller": (a + r) / 2, "affiliate": (r + 1.0) / 2}[kind]

    def as_args(self) -> list[str]:
        return ["--mix", f"agency={self.agency:g},reseller={self.reseller:g},affiliate={self.affiliate:g}",
                "--team-size", f"{self.team_min}-{self.team_max}"]


def parse_mix(text: str, base: Mix | None = None) -> Mix:
    """`agency=0.6,reseller=0.2,affiliate=0.2` (programs left out get weight 0)."""
    weights = dict.fromkeys(PROGRAMS, 0.0)
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in PROGRAMS:
            raise MixError(f"expected PROGRAM=WEIGHT with PROGRAM one of {', '.join(PROGRAMS)}, got {part.strip()!r}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise MixError(f"weight of {name} must be a number, got {value.strip()!r}") from None
    base = base or Mix()
    return Mix(**weights, team_min=base.team_min, team_max=base.team_max)


def parse_team_size(text: str, base: Mix | None = None) -> Mix:
    """`3` or `2-4`."""
    low, sep, high = text.partition("-")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise MixError(f"team size must be N or MIN-MAX, got {text!r}") from None
    base = base or Mix()
    return Mix(base.agency, base.reseller, base.affiliate, team_min=lo, team_max=hi)


def plan_accounts(count: int, seed: int, mix: Mix | None = None) -> list[dict]:
    """The accounts to create: [{program, username, password, notification_email, team}].

    Every program of the mix appears at least once when `count` allows it, whatever the seed.
    """
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


def seed_accounts(store: Store, passwords: Passwords, count: int, seed: int, mix: Mix | None = None) -> int:
    """Create the accounts unless the database already has partners; returns how many exist."""
    if store.partner_count() > 0 or count <= 0:
        return store.partner_count()
    planned = plan_accounts(count, seed, mix)
    hashes = list(passwords.pool.map(passwords.hash_sync, [a["password"] for a in planned]))
    with store.tx():
        for account, hashed in zip(planned, hashes, strict=True):
            store.add_partner(account["program"], account["username"], hashed, account["password"],
                              account["notification_email"], account["team"])
    return store.partner_count()
