"""The one list of personas, read from the persona classes themselves.

Everything that names personas reads it: the scenario parser and its JSON Schema, Locust's
`--personas` option, the Locust user classes (`personas.py`), the target-mode feature check
(`needs`) and `mfa-harness up`'s account arithmetic (`kind`). Importing it loads only the pure
persona modules (no Locust, no gevent), so a scenario file is checked before anything starts.

To add a persona, define its class (with a `name` and a docstring) in `everyday.py` or
`probers.py`; see loadtests/README.md "Adding a persona".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import everyday, probers  # noqa: F401  (importing them registers their personas)
from .persona_base import REGISTERED, Persona


@dataclass(frozen=True)
class PersonaInfo:
    """What other parts need to know of a persona, without running it."""

    name: str
    description: str               # the first line of the class docstring
    kind: str                      # "partner", "affiliate" or "prober"
    programs: tuple[str, ...]      # account programs it takes, in order of preference
    needs: tuple[str, ...]         # profile paths the target must have (`paths.X` not "none")


def _info(cls: type[Persona]) -> PersonaInfo:
    return PersonaInfo(cls.name, (cls.__doc__ or "").strip().splitlines()[0], cls.kind, cls.programs, cls.needs)


PERSONA_CLASSES: dict[str, type[Persona]] = dict(REGISTERED)      # in definition order
PERSONAS: dict[str, PersonaInfo] = {name: _info(cls) for name, cls in PERSONA_CLASSES.items()}
PERSONA_NAMES: tuple[str, ...] = tuple(PERSONAS)
NEEDS: dict[str, tuple[str, ...]] = {name: p.needs for name, p in PERSONAS.items() if p.needs}
AFFILIATE_PERSONAS: frozenset[str] = frozenset(name for name, p in PERSONAS.items() if p.kind == "affiliate")
