"""`mfa-harness run`: start the stack, drive it with Locust under the fault schedule, check, report.

The order matters for honesty: scenario time 0 (the epoch) is when the load begins, whatever the
start-up cost. The stack starts on a provisional epoch; Locust starts with `--await-go`, sets up
(workers connected, portal and inbox answered) and says it is ready; only then is the epoch set,
the portal's clock and the inbox's fault windows moved onto it, and Locust told to begin at it.
The children are torn down whatever happens (Ctrl-C included).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import loadtests
from loadtests.accounts import AccountsError, load_file, load_url

from . import bugmap, collect, target_inbox
from .load_start import (
    GO_MARGIN_S,
    LoadStartError,
    align_target,
    put_faults,
    send_go,
    start_locust,
    stop_locust,
    wait_locust,
    without_alignment,
)
from .nemesis import Nemesis, fault_window_lines
from .progress import Progress
from .spec import Scenario
from .stack import LocalStack, StackConfig, StackError

LOCUSTFILE = Path(loadtests.__file__).parent / "locustfile.py"
ACCOUNTS_PROBE_S = 10.0    # one GET of a target's accounts URL, before anything starts


class SetupError(RuntimeError):
    """The run could not be set up (exit 2)."""


@dataclass
class RunOptions:
    """Command-line overrides of a scenario."""

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
    max_error_share: float | None = None      # None: scenarios.server_answers.DEFAULT_MAX_ERROR_SHARE


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
    for bug in bugs:
        if bug not in bugmap.PLANTED_BUGS:
            raise SetupError(f"unknown bug {bug!r} (see `mfa-harness bugs`)")
    if bugs and opts.target:
        raise SetupError("--bug needs the local reference portal; it cannot be combined with --target")
    if opts.target and any(s.action == "kill-portal" for s in sc.nemesis):
        raise SetupError("the scenario's kill-portal step needs the portal the run starts itself; "
                         "it cannot run with --target")
    if bugs:    # from --bug or the file's `bugs`: either way the run must catch them
        caught_by = {inv for b in bugs for inv in bugmap.PLANTED_BUGS[b].invariants}
        sc.expect_invalid = sorted(set(sc.expect_invalid) | caught_by)
        for bug in bugs:
            sc.processes = max(sc.processes, bugmap.PLANTED_BUGS[bug].processes)
    sc.bugs = bugs
    return sc


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


def target_accounts(opts: RunOptions) -> tuple[list[dict[str, Any]], list[str]]:
    """A --target run's accounts and the Locust options that hand them out (SetupError if none).

    --accounts-file is read and checked with the load tests' own loader; --accounts-url, or without
    either the target's `/_harness/accounts`, is fetched once (bounded), so a foreign portal with no
    accounts source fails here, before anything starts, instead of in every simulated user.
    """
    if opts.accounts_file and opts.accounts_url:
        raise SetupError("give --accounts-file or --accounts-url, not both")
    if not opts.target:
        if opts.accounts_file or opts.accounts_url:
            raise SetupError("--accounts-file/--accounts-url need --target (the local portal seeds its own accounts)")
        return [], []
    try:
        if opts.accounts_file:
            loaded = load_file(opts.accounts_file)
            return [dataclasses.asdict(a) for a in loaded], ["--accounts-file", str(opts.accounts_file.resolve())]
        url = opts.accounts_url or opts.target.rstrip("/") + "/_harness/accounts"
        accounts = [dataclasses.asdict(a) for a in load_url(url, timeout=ACCOUNTS_PROBE_S)]
        return accounts, ["--accounts-url", url]
    except AccountsError as exc:
        if opts.accounts_file:
            raise SetupError(f"--accounts-file: {exc}") from None
        if opts.accounts_url:
            raise SetupError(f"--accounts-url: {exc}") from None
        raise SetupError(f"--target needs --accounts-file FILE or --accounts-url URL: {exc}") from None


def default_out(sc: Scenario) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-" + "-".join(sc.bugs) if sc.bugs else ""
    return Path("runs") / f"{stamp}-{sc.name}{suffix}"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise SetupError(f"cannot write {v!r} to TOML")


def write_toml(path: Path, top: dict[str, Any], tables: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """Minimal TOML writer for flat policy/fault files (round-trips through tomllib)."""
    out = [f"{k} = {_toml_value(v)}" for k, v in top.items()]
    for name, rows in (tables or {}).items():
        for row in rows:
            out.append(f"\n[[{name}]]")
            out += [f"{k} = {_toml_value(v)}" for k, v in row.items()]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    tomllib.loads(path.read_text(encoding="utf-8"))
    return path


def locust_argv(sc: Scenario, *, host: str, inbox_url: str, out: Path, workers: int,
                target_profile: Path | None, accounts_args: list[str]) -> list[str]:
    """Locust's command line; `accounts_args` is `--accounts-url URL` or `--accounts-file FILE`.
    `--await-go`: Locust says when it is ready and the runner then gives it the epoch."""
    personas = ",".join(f"{k}={v:g}" for k, v in sc.personas.items())
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(sc.users), "-r", f"{sc.spawn_rate:g}", "-t", f"{max(1, round(sc.wall_duration))}s",
            "--stop-timeout", f"{max(5, round(60 / sc.time_scale + 5))}",
            "--host", host, "--inbox-url", inbox_url,
            "--time-scale", f"{sc.time_scale:g}", "--await-go", "--seed", str(sc.seed),
            "--history-file", str(out / "client-history.jsonl"), "--summary-file", str(out / "locust-summary.json"),
            "--personas", personas, "--csv", str(out / "locust"), "--html", str(out / "locust-report.html"),
            "--only-summary", "--loglevel", "WARNING"]
    argv += accounts_args
    if sc.arrival_rate:
        argv += ["--arrival-rate", f"{sc.arrival_rate:g}"]
    if target_profile:
        argv += ["--target-profile", str(target_profile)]
    for expr in sc.thresholds:
        argv += ["--threshold", expr]
    if workers > 0:
        # Locust's master listens on all interfaces at 5557 by default: keep it on loopback, on a
        # free port, so two runs never share workers.
        port = free_port()
        argv += ["--processes", str(workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--master-host", "127.0.0.1", "--master-port", str(port)]
    return argv + sc.locust_args


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops a run the way Ctrl-C does: through the same teardown."""
    raise KeyboardInterrupt


def free_port() -> int:
    """A loopback port the OS reports free (used for Locust's master, which cannot bind port 0)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def target_preflight(sc: Scenario, opts: RunOptions, accounts: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Before any load on a --target: the time rule and the probe (scenarios/probe.py); the policy the
    run is judged against and where it came from. A problem is a SetupError (exit 2, one line)."""
    from loadtests.profile import ProfileError, load_profile

    from .probe import checker_policy, preflight

    try:
        profile = load_profile(opts.target_profile)
    except ProfileError as exc:
        raise SetupError(str(exc)) from None
    problem = preflight(opts.target or "", opts.inbox_url or "", profile, accounts, sc.time_scale,
                        dict(sc.personas))
    if problem:
        raise SetupError(problem)
    policy, source = checker_policy(profile)
    if not opts.quiet:
        print(f"mfa-harness: probe ok; judged against the policy of {source}: {policy or 'defaults'}",
              file=sys.stderr)
    return policy, source


def run(sc: Scenario, opts: RunOptions) -> int:
    """Run one scenario end to end; returns the exit code (0 pass, 1 invariant, 3 threshold, 2 setup)."""
    from .verdict_io import finish_run

    if opts.target and not opts.inbox_url:
        raise SetupError("--target needs --inbox-url")
    accounts, accounts_args = target_accounts(opts)   # before anything starts; ([], []) for the local stack
    target_policy, policy_source = target_preflight(sc, opts, accounts) if opts.target else ({}, "")
    out = prepare_out(opts.out or default_out(sc))
    t_launch = time.time()
    phases: dict[str, float] = {}
    white_box = opts.target is None
    policy_file = write_toml(out / "policy.toml", sc.policy) if sc.policy else None
    fault_plan = {"seed": sc.seed, "rules": sc.faults}
    faults_file = write_toml(out / "faults.toml", {"seed": sc.seed}, {"rules": sc.faults})

    stack: LocalStack | None = None
    previous_plan: dict[str, Any] | None = None
    locust: subprocess.Popen | None = None
    nemesis: Nemesis | None = None
    progress: Progress | None = None
    epoch = t_launch
    # Both signals stop the run through the same teardown, also when the shell that started us
    # ignored SIGINT (a background job inherits SIG_IGN, and Python then installs no handler).
    old_handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if white_box:
            # the stack's own epoch is provisional: its clock is moved onto the run's axis at the go
            stack = LocalStack(StackConfig(out=out, epoch=t_launch, time_scale=sc.time_scale, seed=sc.seed,
                                           partners=sc.partners, population=sc.population,
                                           processes=sc.processes, bugs=sc.bugs,
                                           policy_file=policy_file, faults_file=faults_file))
            try:
                stack.start()
            except StackError as exc:
                raise SetupError(str(exc)) from None
            portal_url, inbox_url = stack.portal_url, stack.inbox_url
            accounts = collect.get_json(portal_url + "/_harness/accounts")
            accounts_args = ["--accounts-url", portal_url + "/_harness/accounts"]
        else:
            portal_url = opts.target.rstrip("/")
            inbox_url = opts.inbox_url.rstrip("/")
            try:     # the inbox is someone else's: its plan is put back when the run ends
                previous_plan = collect.get_json(inbox_url + "/api/v1/faults", timeout=10)
            except (collect.CollectError, ValueError) as exc:
                raise SetupError(f"--inbox-url {inbox_url}: cannot read its fault plan: {exc}") from None

        argv = locust_argv(sc, host=portal_url, inbox_url=inbox_url, out=out,
                           workers=opts.workers, target_profile=opts.target_profile, accounts_args=accounts_args)
        (out / "command.txt").write_text(shlex.join(argv) + "\n", encoding="utf-8")
        phases["stack_start_s"] = round(time.time() - t_launch, 3)
        t_locust = time.time()
        try:
            locust = start_locust(argv, out)
        except LoadStartError as exc:
            write_refusal(out, sc, str(exc))
            raise SetupError(str(exc)) from None
        phases["locust_start_s"] = round(time.time() - t_locust, 3)
        # Scenario time 0: everything is up, so the load begins now, whatever the start-up cost was.
        epoch = time.time() + GO_MARGIN_S
        align_target(stack, portal_url, inbox_url, fault_plan if (sc.faults or not white_box) else None,
                     epoch, sc.time_scale)
        send_go(locust, epoch)
        current_stack = stack
        nemesis = Nemesis(sc.nemesis, epoch=epoch, time_scale=sc.time_scale, seed=sc.seed,
                          portal_url=lambda: current_stack.portal_url if current_stack else portal_url,
                          kill_portal=stack.kill_portal if stack else None,
                          restart_portal=stack.restart_portal if stack else None, accounts=accounts)
        nemesis.start()
        progress = Progress(sc, epoch=epoch, portal_url=(lambda: current_stack.portal_url) if stack else None,
                            nemesis=nemesis, quiet=opts.quiet, client_history=out / "client-history.jsonl")
        progress.start()
        wait_locust(locust, sc.wall_duration + 180)
        phases["locust_s"] = round(time.time() - t_locust, 3)
        t_collect = time.time()
        nemesis.stop()
        progress.stop()
        if stack and stack.portal and not stack.portal.alive():
            stack.restart_portal()  # a kill at the very end: the log is still in the database
        # Let the outbox drain what is still queued before reading the histories.
        if stack:
            _drain_outbox(stack.portal_url, sc.time_scale)
        portal_lines = without_alignment(collect.portal_events(portal_url), epoch) if white_box else []
        # the inbox's own axis (and, for a target's inbox, its own past) onto the run's axis
        inbox_lines = target_inbox.restamp(collect.inbox_deliveries(inbox_url), epoch, sc.time_scale,
                                           since_wall=t_launch)
        phases["drain_and_collect_s"] = round(time.time() - t_collect, 3)
    except KeyboardInterrupt:
        print("interrupted: stopping the stack", file=sys.stderr)
        return 130
    except (collect.CollectError, LoadStartError) as exc:
        raise SetupError(str(exc)) from None
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        if progress:
            progress.stop()
        if nemesis:
            nemesis.stop()
        stop_locust(locust)
        if stack:
            stack.stop()
        if previous_plan is not None:
            try:
                put_faults(inbox_url, previous_plan)
            except LoadStartError as exc:
                print(f"mfa-harness: warning: the inbox's earlier fault plan was not restored: {exc}",
                      file=sys.stderr)

    client_lines = collect.read_jsonl(out / "client-history.jsonl")
    nemesis_lines = fault_window_lines(sc.faults, epoch, sc.time_scale, sc.duration) + nemesis.lines
    history = collect.merge(portal_lines, inbox_lines, client_lines, nemesis_lines)
    collect.write_jsonl(out / "history.jsonl", history)
    summary = _read_summary(out / "locust-summary.json")
    run_info = {
        "scenario": sc.name, "scenario_file": str(sc.path), "seed": sc.seed, "time_scale": sc.time_scale,
        "duration": sc.duration, "epoch": epoch, "white_box": white_box, "policy": {**sc.policy, **target_policy},
        **({"policy_source": policy_source} if policy_source else {}),
        "partners": sc.partners, "population": sc.population,
        "fault_plan": fault_plan, "nemesis": [vars(s) for s in sc.nemesis], "bugs": sc.bugs,
        "expected": sc.expected, "strict": opts.strict, "accounts": accounts, "users": sc.users,
        **({"max_error_share": opts.max_error_share} if opts.max_error_share is not None else {}),
        "workers": opts.workers, "processes": sc.processes, "locust_exit": locust.returncode if locust else None,
        "thresholds": (summary or {}).get("thresholds", {}), "thresholds_asked": sc.thresholds,
        "load": load_facts(summary, sc, opts.workers),
        "nemesis_errors": nemesis.errors if nemesis else [],
        "command": shlex.join(sys.argv), "portal_restarts": stack.restarts if stack else 0,
        "phases": phases,
    }
    (out / "run.json").write_text(json.dumps(run_info, indent=2), encoding="utf-8")
    return finish_run(out, history, run_info, quiet=opts.quiet)


def prepare_out(out: Path) -> Path:
    """The run folder and its logs/, or SetupError in one line (an existing file, /proc, no permission)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        probe = out / ".mfa-harness-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise SetupError(f"--out {out}: exists and is not a folder") from None
    except OSError as exc:
        raise SetupError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def write_refusal(out: Path, sc: Scenario, reason: str) -> None:
    """verdict.json and junit.xml of a run that never began, so CI reads the reason, not a green file."""
    from .junit import write_junit

    verdict = {"scenario": sc.name, "seed": sc.seed, "time_scale": sc.time_scale, "passed": False,
               "invariants_as_expected": True, "thresholds_passed": False, "invariants": {},
               "thresholds": {t: {"passed": False, "value": None, "note": "not evaluated: the load never began"}
                              for t in sc.thresholds},
               "problems": [reason], "bugs": sc.bugs, "expected": sc.expected, "metrics": {}}
    (out / "verdict.json").write_text(json.dumps(verdict, indent=2), encoding="utf-8")
    write_junit(verdict, out / "junit.xml")


def load_facts(summary: dict[str, Any] | None, sc: Scenario, workers: int) -> dict[str, Any]:
    """What the load actually did, from Locust's summary: users asked and reached, workers, early stop."""
    run = (summary or {}).get("run") or {}
    return {"users_asked": sc.users, "users_peak": run.get("users_peak"),
            "workers_asked": workers, "workers_reported": len((summary or {}).get("workers_reported") or []),
            "run_time_asked_s": run.get("run_time_asked_s"), "run_time_s": run.get("run_time_s"),
            "stopped_early": run.get("stopped_early"), "allow_partial": sc.allow_partial}


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drain_outbox(portal_url: str, time_scale: float, max_wait_s: float = 20.0) -> None:
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
