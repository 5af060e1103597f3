"""The base of every persona: its registry entry and the decisions of a standard login flow.

A persona is a way people really sign in. Its class says who it is (`name`, the docstring's
first line, the account `programs` it takes, its `kind`, the target `needs`) and decides what
to do next; the doing is the client steps' (`steps.Steps`, reached as `self.s`), which write
the history. Defining a class with a `name` registers it: `persona_registry` reads them all,
and `personas.py` makes one Locust user class of each. Pure on purpose (no Locust, no gevent),
so the scenario parser can list the personas without starting a load generator.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any, ClassVar

from . import decisions

if TYPE_CHECKING:
    from .inbox_client import Mail
    from .steps import FlowState, Steps

log = logging.getLogger("mfa_harness.loadtests.personas")
PARTNER = ("reseller", "agency")
KINDS = ("partner", "affiliate", "prober")
NEXT_CODE_TRIES = 2          # further mails tried after a wrong code when codes look alike (below)
NEXT_CODE_WAIT_ST = 30.0     # scenario seconds to wait for each of them
REGISTERED: dict[str, type[Persona]] = {}      # filled as persona modules are imported; read persona_registry


class PersonaError(TypeError):
    """A persona class that cannot be registered (its `name` and the reason)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"persona {name!r}: {problem}")
        self.name, self.problem = name, problem


class Persona:
    """Base of every persona: a partner who signs in, reads the code, types it, opens the account page."""

    name: ClassVar[str] = ""                     # set on a concrete persona: registers it under this name
    programs: ClassVar[tuple[str, ...]] = PARTNER   # account programs it takes, first with one left
    kind: ClassVar[str] = "partner"              # "partner", "affiliate" or "prober"
    # Profile paths (`paths.X`) without which the persona has no point: a target run whose profile
    # says "none" for one is refused up front. A persona that only sometimes uses one (patient and
    # impatient resend when no code came) does not list it and skips that behaviour instead.
    needs: ClassVar[tuple[str, ...]] = ()
    by_ref: ClassVar[bool] = True                # reads the email quoting this login's reference
    pause_st: ClassVar[tuple[float, float]] = (5.0, 30.0)   # scenario seconds between flows (closed model)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not name:
            return                               # an abstract base of other personas
        if name in REGISTERED:
            raise PersonaError(name, f"defined twice ({REGISTERED[name].__qualname__}, {cls.__qualname__})")
        if not (cls.__doc__ or "").strip():
            raise PersonaError(name, f"{cls.__qualname__} needs a docstring (its first line is the description)")
        if cls.kind not in KINDS:
            raise PersonaError(name, f"kind {cls.kind!r} is not one of {', '.join(KINDS)}")
        REGISTERED[name] = cls

    def __init__(self, rng: random.Random | None = None) -> None:
        self.s: Steps = None  # type: ignore[assignment]   # attached once the user has an account
        self.rng = rng or random.Random()
        self.flows = 0                            # login flows started by this user

    def attach(self, steps: Steps, rng: random.Random) -> None:
        """Give the persona its user's client steps and random generator (shared with the user's pacing)."""
        self.s, self.rng = steps, rng

    @property
    def account(self) -> Any:
        return self.s.account

    # ---- the flow ------------------------------------------------------------------------------
    def flow(self, fs: FlowState) -> str:
        """The persona's login transaction; returns the flow outcome."""
        return self.partner_flow(fs)

    def partner_flow(self, fs: FlowState) -> str:
        return self.sign_in(fs) or self.challenged(fs)

    def challenged(self, fs: FlowState) -> str:
        """The rest of the flow once signing in brought the code page: read the code and type it."""
        return self.code_and_verify(fs)

    def sign_in(self, fs: FlowState) -> str | None:
        """Sign in: None when a code page came (the flow goes on), else the flow's outcome."""
        landed = self.s.login(fs)
        if landed == "verify":
            return None
        if landed == "in":
            log.warning("%s %s got in without a code (MFA skipped)", self.name, self.account.username)
            return "error"
        return landed

    def code_and_verify(self, fs: FlowState) -> str:
        mail = self.get_code(fs)
        if mail is None:
            return "no_code"
        result = self.enter_code(fs, mail)
        for _ in range(NEXT_CODE_TRIES if self.codes_look_alike() else 0):
            if result != "wrong":
                break
            mail = self.s.read_code(fs, NEXT_CODE_WAIT_ST, purpose="next")
            if mail is None:
                break
            result = self.s.verify(fs, mail.code or "", fs.ref)
        return self.settle(fs, result)

    def codes_look_alike(self) -> bool:
        """A shared notification address and code mails naming no login (the profile has no
        reference): the first mail after signing in may be a teammate's, so after a wrong code a
        user tries the next mail (read with `purpose: next`), as people on a shared inbox do."""
        return self.s.profile.ref_regex is None and bool(getattr(self.account, "team", None))

    def settle(self, fs: FlowState, result: str) -> str:
        """The flow's end after the last code typed: signed in, once more from sign-in, or the refusal."""
        if result == "ok":
            return self.after_verify(fs)
        if result == "bounced":
            return self.sign_in_again(fs)
        return decisions.outcome_of_verify(result)

    def after_verify(self, fs: FlowState) -> str:
        """A careful browser reloads its account page once, then signs out."""
        seen = self.s.access_account(fs)
        if seen == "bounced":
            return "loop" if self.s.bounced(fs, fs.last_page.chain) else self.sign_in_again(fs)
        if seen != "ok":
            return seen
        self.s.logout(fs)
        return "ok"

    def sign_in_again(self, fs: FlowState) -> str:
        """After one bounce to sign-in: a fresh login and code, as a user would (a second bounce is a loop)."""
        self.s.loops.reset()
        return self.sign_in(fs) or self.code_and_verify(fs)

    # ---- the decisions personas override -------------------------------------------------------
    def get_code(self, fs: FlowState) -> Mail | None:
        """Wait for this login's code, up to --code-timeout scenario seconds."""
        return self.s.read_code(fs, self.s.code_timeout)

    def enter_code(self, fs: FlowState, mail: Mail) -> str:
        return self.s.verify(fs, mail.code or "", fs.ref)

    def first_that_is_not_wrong(self, fs: FlowState, codes: Any) -> str:
        """Type codes (an iterable, drawn lazily) until one is not refused as wrong; the last result."""
        result = "error"
        for code in codes:
            result = self.s.verify(fs, code, fs.ref)
            if result != "wrong":
                break
        return result
