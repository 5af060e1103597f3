"""What `mfa-harness run` was asked: the command line's overrides, checked once, and the scenario they make.

`RunOptions` checks its own combination when it is made (the command line builds it; so do tests
and the pytest plugin), so neither the command line nor the runner checks an option again.
`apply_overrides` then makes the scenario as it will run: overrides applied, the planted bugs'
expectations set, and the checks that need the scenario too (a bug or a kill-portal step
against a --target).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from mfa_harness.errors import OptionError, SetupError

from . import bugmap
from .spec import Scenario


@dataclass
class RunOptions:
    """Command-line overrides of a scenario; an impossible combination is an OptionError when made."""

    out: Path | None = None
    time_scale: float | None = None
    duration: float | None = None
    users: int | None = None
    seed: int | None = None
    workers: int = 0
    bugs: list[str] = field(default_factory=list)
    target: str | None = None
    inbox_url: str | None = None
    target_profile: Path | None = None
    accounts_file: Path | None = None
    accounts_url: str | None = None
    strict: bool = False
    quiet: bool = False
    max_error_share: float | None = None      # None: mfa_harness.scenarios.server_answers.DEFAULT_MAX_ERROR_SHARE

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise OptionError(*problem)

    def problem(self) -> tuple[str, str] | None:
        """(option, one-line message) of the first option that cannot be used as given, else None."""
        if self.workers < 0:
            return "--workers", "--workers must be >= 0"
        if self.max_error_share is not None and not 0.0 <= self.max_error_share <= 1.0:
            return "--max-error-share", f"--max-error-share must be between 0 and 1, got {self.max_error_share}"
        if self.target is not None and self.inbox_url is None:
            return "--target", "--target needs --inbox-url"
        if self.target is None and self.inbox_url is not None:
            return "--inbox-url", "--inbox-url needs --target (without it the run starts its own inbox)"
        if self.target_profile and not self.target_profile.is_file():
            return "--target-profile", f"--target-profile {self.target_profile}: no such file"
        if self.accounts_file and self.accounts_url:
            return "--accounts-url", "give --accounts-file or --accounts-url, not both"
        if not self.target and (self.accounts_file or self.accounts_url):
            return ("--accounts-file" if self.accounts_file else "--accounts-url",
                    "--accounts-file/--accounts-url need --target (the local portal seeds its own accounts)")
        return None


def apply_overrides(sc: Scenario, opts: RunOptions) -> Scenario:
    """The scenario as it will run: overrides applied, planted bugs' expectations set."""
    if opts.time_scale is not None:
        sc.time_scale = opts.time_scale
    if opts.duration is not None:
        sc.duration = opts.duration
        _warn_windows_after(sc)
    if opts.users is not None:
        sc.users = opts.users
        sc.spawn_rate = max(sc.spawn_rate, float(opts.users))
    if opts.seed is not None:
        sc.seed = opts.seed
    bugs = list(dict.fromkeys(sc.bugs + opts.bugs))
    _check_bugs(sc, opts, bugs)
    if bugs:    # from --bug or the file's `bugs`: either way the run must catch them
        caught_by = {inv for b in bugs for inv in bugmap.PLANTED_BUGS[b].invariants}
        sc.expect_invalid = sorted(set(sc.expect_invalid) | caught_by)
        for bug in bugs:
            sc.processes = max(sc.processes, bugmap.PLANTED_BUGS[bug].processes)
    sc.bugs = bugs
    return sc


def _check_bugs(sc: Scenario, opts: RunOptions, bugs: list[str]) -> None:
    """Planted bugs exist, and neither they nor a kill-portal step are asked of a portal we did not start."""
    for bug in bugs:
        if bug not in bugmap.PLANTED_BUGS:
            raise OptionError("--bug", f"unknown bug {bug!r} (see `mfa-harness bugs`)", value=bug)
    if bugs and opts.target:
        raise OptionError("--bug", "--bug needs the local reference portal; it cannot be combined with --target")
    if opts.target and any(s.action == "kill-portal" for s in sc.nemesis):
        raise SetupError("the scenario's kill-portal step needs the portal the run starts itself; "
                         "it cannot run with --target", option="--target", action="kill-portal")
    _check_harness_steps(sc, opts)


HARNESS_STEPS = ("clock-jump", "change-notification")   # nemesis actions that POST to the target's /_harness


def _check_harness_steps(sc: Scenario, opts: RunOptions) -> None:
    """A clock jump or a notification change needs the target's `/_harness` endpoints, which a
    target has when its profile says it follows the harness (`policy.clock_scale = "harness"`, the
    reference portal's); against any other --target the run is refused before anything starts,
    instead of failing its nemesis step mid-run and passing without the fault."""
    steps = sorted({s.action for s in sc.nemesis if s.action in HARNESS_STEPS})
    if not opts.target or not steps:
        return
    from mfa_harness.loadtests.profile import ProfileError, load_profile

    try:
        profile = load_profile(opts.target_profile)
    except ProfileError:
        return                                    # reported, with the key, by the target's preflight
    if profile.policy.get("clock_scale") != "harness":
        raise SetupError(f"the scenario's {' and '.join(steps)} step needs the target's /_harness endpoints "
                         f"(the reference portal's); the profile {profile.name} does not declare "
                         "policy.clock_scale = \"harness\", so it cannot run with this --target",
                         option="--target", action=steps[0])


def _warn_windows_after(sc: Scenario) -> None:
    """A --duration shorter than the file's: fault windows past the new end are said, with their line."""
    from .spec import fault_line

    for i, rule in enumerate(sc.faults):
        for key in ("start", "end"):
            value = rule.get(key)
            if isinstance(value, int | float) and value > sc.duration:
                print(f"mfa-harness: warning: {sc.path}:{fault_line(sc.path, i, key)}: faults[{i}].{key} = {value:g} "
                      f"is after the run's end (--duration {sc.duration:g} scenario seconds)", file=sys.stderr)
                break
