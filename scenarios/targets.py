"""The run's target: the system under test and its inbox, as one part with one life cycle.

Two kinds, one interface. `LocalTarget` starts the reference stack (inbox and portal as real
processes) and reads the portal's own event log as evidence (white box). `ExternalTarget` is a
portal and inbox someone else runs (`--target`, `--inbox-url`): nothing is started, its inbox's
fault plan is put back when the run ends, and the evidence is the inbox's deliveries (black box).

Either way the runner asks the same things in the same order: `start`, then its URLs and
accounts, `align` onto the run's epoch, `portal_hooks` for the nemesis and progress line,
`collect` its evidence after the load, and `stop` (registered before `start`, so a half-started
target is stopped too).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mfa_harness.errors import SetupError
from mfa_harness.harness_http import HttpError, InboxApi, PortalHarness
from mfa_harness.loadtests.accounts import AccountsError, load_file, load_url
from mfa_harness.timebase import Timebase

from . import collect, target_inbox
from .stack import LocalStack, StackConfig

ACCOUNTS_PROBE_S = 10.0    # one GET of a target's accounts URL, before anything starts
DRAIN_MAX_S = 20.0         # after the load: how long the outbox may take to settle what is queued


@dataclass
class Evidence:
    """What a target hands the checker besides the clients' history."""

    portal_lines: list[dict[str, Any]]
    inbox_lines: list[dict[str, Any]]


@dataclass
class PortalHooks:
    """What the nemesis and the progress line may do to the portal: its URL now (it may have restarted),
    and kill -9 / restart when the run owns the portal (None otherwise)."""

    url: Callable[[], str]
    kill: Callable[[], None] | None = None
    restart: Callable[[], None] | None = None
    event_log: bool = False          # the portal's event log can be read (white box)


class Target(Protocol):
    white_box: bool
    accounts: list[dict[str, Any]]
    accounts_args: list[str]         # the Locust options that hand the accounts out

    @property
    def portal_url(self) -> str: ...
    @property
    def inbox_url(self) -> str: ...
    @property
    def restarts(self) -> int: ...
    def start(self) -> None: ...
    def align(self, epoch: float, fault_plan: dict[str, Any]) -> None: ...
    def portal_hooks(self) -> PortalHooks: ...
    def collect(self, epoch: float, since_wall: float) -> Evidence: ...
    def stop(self) -> None: ...


class LocalTarget:
    """The reference stack the run starts itself, on a provisional epoch moved onto the run's at `align`."""

    white_box = True

    def __init__(self, cfg: StackConfig):
        self.stack = LocalStack(cfg)
        self.accounts: list[dict[str, Any]] = []
        self.accounts_args: list[str] = []

    @property
    def portal_url(self) -> str:
        return self.stack.portal_url

    @property
    def inbox_url(self) -> str:
        return self.stack.inbox_url

    @property
    def restarts(self) -> int:
        return self.stack.restarts

    def start(self) -> None:
        self.stack.start()         # StartError (a SetupError): which child, why, which listener
        accounts_url = self.portal_url + "/_harness/accounts"
        self.accounts = collect.get_json(accounts_url)
        self.accounts_args = ["--accounts-url", accounts_url]

    def align(self, epoch: float, fault_plan: dict[str, Any]) -> None:
        """The portal's harness clock onto the run's axis, and the fault windows (if any) onto the inbox's."""
        scale = self.stack.cfg.time_scale
        try:       # back by the scenario time that passed on the provisional axis before the run's epoch
            PortalHarness(self.portal_url).advance_clock(-Timebase(epoch=self.stack.cfg.epoch, scale=scale).st(epoch))
        except (HttpError, KeyError, TypeError, ValueError) as exc:
            raise SetupError(f"cannot set the portal's clock at {self.portal_url}: {exc}",
                             url=self.portal_url) from None
        if fault_plan.get("rules"):
            align_inbox(self.inbox_url, fault_plan, epoch, scale)

    def portal_hooks(self) -> PortalHooks:
        return PortalHooks(url=lambda: self.portal_url, kill=self.stack.kill_portal,
                           restart=self.stack.restart_portal, event_log=True)

    def collect(self, epoch: float, since_wall: float) -> Evidence:
        """The portal's events (restarted first if a kill came at the very end; its log is in the database)
        once the outbox has settled, and the inbox's deliveries on the run's axis."""
        if self.stack.portal and not self.stack.portal.alive():
            self.stack.restart_portal()
        drain_outbox(self.portal_url)
        portal_lines = without_alignment(collect.portal_events(self.portal_url), epoch)
        inbox_lines = target_inbox.restamp(collect.inbox_deliveries(self.inbox_url), epoch,
                                           self.stack.cfg.time_scale, since_wall=since_wall)
        return Evidence(portal_lines, inbox_lines)

    def stop(self) -> None:
        self.stack.stop()


class ExternalTarget:
    """A portal and inbox already running (`--target`): black box; its inbox's fault plan is put back at `stop`."""

    white_box = False

    def __init__(self, portal_url: str, inbox_url: str, accounts: list[dict[str, Any]], accounts_args: list[str],
                 time_scale: float):
        self._portal_url, self._inbox_url = portal_url.rstrip("/"), inbox_url.rstrip("/")
        self.accounts, self.accounts_args = accounts, accounts_args
        self.time_scale = time_scale
        self.previous_plan: dict[str, Any] | None = None

    @property
    def portal_url(self) -> str:
        return self._portal_url

    @property
    def inbox_url(self) -> str:
        return self._inbox_url

    @property
    def restarts(self) -> int:
        return 0

    def start(self) -> None:
        """Nothing to start; the inbox is someone else's, so its fault plan is read to be put back."""
        try:
            self.previous_plan = collect.get_json(self.inbox_url + "/api/v1/faults", timeout=10)
        except (collect.CollectError, ValueError) as exc:
            raise SetupError(f"--inbox-url {self.inbox_url}: cannot read its fault plan: {exc}",
                             option="--inbox-url", url=self.inbox_url) from None

    def align(self, epoch: float, fault_plan: dict[str, Any]) -> None:
        """The scenario's fault plan (an empty one clears the inbox's) in the inbox's own time."""
        align_inbox(self.inbox_url, fault_plan, epoch, self.time_scale)

    def portal_hooks(self) -> PortalHooks:
        return PortalHooks(url=lambda: self.portal_url)

    def collect(self, epoch: float, since_wall: float) -> Evidence:
        """The inbox's deliveries of this run (its earlier past left out) on the run's axis; no portal log."""
        inbox_lines = target_inbox.restamp(collect.inbox_deliveries(self.inbox_url), epoch, self.time_scale,
                                           since_wall=since_wall)
        return Evidence([], inbox_lines)

    def stop(self) -> None:
        if self.previous_plan is None:
            return
        try:
            put_faults(self.inbox_url, self.previous_plan)
        except SetupError as exc:
            print(f"mfa-harness: warning: the inbox's earlier fault plan was not restored: {exc}",
                  file=sys.stderr)


def align_inbox(inbox_url: str, fault_plan: dict[str, Any], epoch: float, time_scale: float) -> None:
    """Put the fault plan to the inbox, its windows shifted into the inbox's own scenario time."""
    try:
        offset = target_inbox.inbox_offset(collect.get_json(inbox_url + "/api/v1/info", timeout=10),
                                           epoch, time_scale) if fault_plan.get("rules") else 0.0
    except target_inbox.TargetInboxError as exc:
        raise SetupError(f"--inbox-url {inbox_url}: {exc.message}", url=inbox_url, **exc.fields) from None
    except (collect.CollectError, ValueError) as exc:     # no answer, or not JSON
        raise SetupError(f"--inbox-url {inbox_url}: {exc}", url=inbox_url) from None
    put_faults(inbox_url, target_inbox.shift_plan(fault_plan, offset))


def put_faults(inbox_url: str, plan: dict[str, Any]) -> None:
    """The whole plan to the inbox; SetupError (with the inbox's own words for a refused plan) otherwise."""
    try:
        InboxApi(inbox_url).put_faults(plan)
    except HttpError as exc:
        raise SetupError(f"cannot set the inbox fault plan at {inbox_url}: {exc.why}", url=inbox_url,
                         status=exc.status) from None


def without_alignment(events: list[dict[str, Any]], epoch: float) -> list[dict[str, Any]]:
    """The portal's events without the clock move that put it on the run's axis (before the epoch;
    a scheduled clock jump is at or after it)."""
    return [e for e in events if not (e.get("event") == "clock_advanced" and float(e.get("wall", 0.0)) < epoch)]


def drain_outbox(portal_url: str, max_wait_s: float = DRAIN_MAX_S) -> None:
    """Wait (bounded) until the portal has an outcome for every queued mail, watching its events."""
    deadline = time.time() + max_wait_s
    while time.time() < deadline:
        try:
            events = collect.portal_events(portal_url)
        except collect.CollectError:
            return
        queued = {e["outbox_id"] for e in events if e.get("event") == "email_queued"}
        done = {e["outbox_id"] for e in events if e.get("event") in ("email_sent", "email_failed")}
        if queued <= done:
            return
        time.sleep(0.5)  # bounded re-read of the portal's log; no event stream to await here


def target_accounts(opts: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """A --target run's accounts and the Locust options that hand them out (SetupError if none).

    --accounts-file is read and checked with the load tests' own loader; --accounts-url, or without
    either the target's `/_harness/accounts`, is fetched once (bounded), so a foreign portal with no
    accounts source fails here, before anything starts, instead of in every simulated user.
    """
    if not opts.target:
        return [], []
    try:
        if opts.accounts_file:
            loaded = load_file(opts.accounts_file)
            return [dataclasses.asdict(a) for a in loaded], ["--accounts-file", str(Path(opts.accounts_file).resolve())]
        url = opts.accounts_url or opts.target.rstrip("/") + "/_harness/accounts"
        accounts = [dataclasses.asdict(a) for a in load_url(url, timeout=ACCOUNTS_PROBE_S)]
        return accounts, ["--accounts-url", url]
    except AccountsError as exc:
        if opts.accounts_file:
            raise SetupError(f"--accounts-file: {exc}", option="--accounts-file") from None
        if opts.accounts_url:
            raise SetupError(f"--accounts-url: {exc}", option="--accounts-url") from None
        raise SetupError(f"--target needs --accounts-file FILE or --accounts-url URL: {exc}",
                         option="--target") from None


def target_preflight(opts: Any, time_scale: float, personas: dict[str, float],
                     accounts: list[dict[str, Any]]) -> tuple[dict[str, Any], str, Any]:
    """Before any load on a --target: the time rule and the probe (scenarios/probe.py); the policy the
    run is judged against, where it came from, and where each rule came from (`judged_policy.policy_origins`).
    A problem is a SetupError (exit 2, one line)."""
    from mfa_harness.loadtests.profile import ProfileError, load_profile

    from .judged_policy import checker_policy, policy_origins
    from .probe import preflight

    try:
        profile = load_profile(opts.target_profile)
    except ProfileError as exc:
        raise SetupError(str(exc), option="--target-profile") from None
    problem = preflight(opts.target or "", opts.inbox_url or "", profile, accounts, time_scale, personas)
    if problem:
        raise SetupError(problem, option="--target")
    policy, source = checker_policy(profile)
    if not opts.quiet:
        print(f"mfa-harness: probe ok; judged against the policy of {source}: {policy or 'defaults'}",
              file=sys.stderr)
    return policy, source, policy_origins(profile)
