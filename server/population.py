"""Who the seeded accounts are: the share of each program and the size of agency teams.

Pure data and parsing (no Faker, no database), so the scenario parser can check a scenario's
`[population]` with the portal's own rules without loading the seeding machinery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
