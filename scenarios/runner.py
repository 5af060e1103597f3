"""`mfa-harness run`: start the target, drive it with Locust under the fault schedule, check, report.

A run is composed of parts (scenarios/README.md, "How a run is put together"): the target
(`targets.py`: the local reference stack, or a portal and inbox given by --target), the Locust
process (`load_start.py`) and the nemesis (`nemesis.py`). Each part's stop is registered on one
`contextlib.ExitStack` before the part starts, so teardown happens in one place, in reverse
order, whatever fails (Ctrl-C and SIGTERM included). What the parts report goes into one typed
`RunRecord` (`run_record.py`), written as run.json.

The order matters for honesty: scenario time 0 (the epoch) is when the load begins, whatever the
start-up cost. The target starts on a provisional epoch; Locust starts with `--await-go`, sets up
(workers connected, portal and inbox answered) and says it is ready; only then is the epoch set,
the target's clocks and fault windows moved onto it, and Locust told to begin at it.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mfa_harness import loadtests
from mfa_harness.errors import EXIT_INTERRUPTED, SetupError

from . import collect
from .judged_policy import scenario_origins
from .load_start import GO_MARGIN_S, LoadStartError, LocustProcess
from .nemesis import Nemesis, fault_window_lines
from .progress import Progress
from .run_options import RunOptions, apply_overrides
from .run_record import LoadFacts, RunRecord
from .spec import Scenario
from .stack import StackConfig
from .targets import Evidence, ExternalTarget, LocalTarget, Target, target_accounts, target_preflight

__all__ = ["RunOptions", "SetupError", "apply_overrides", "free_port", "locust_argv", "run", "target_accounts",
           "write_toml"]

LOCUSTFILE = Path(loadtests.__file__).parent / "locustfile.py"
LOCUST_GRACE_S = 180.0     # wall seconds Locust may run past its run time before it is stopped


def run(sc: Scenario, opts: RunOptions) -> int:
    """Run one scenario end to end; returns the exit code (0 pass, 1 invariant, 3 threshold, 2 setup, 130)."""
    from .verdict_io import finish_run

    accounts, accounts_args = target_accounts(opts)   # before anything starts; ([], []) for the local stack
    policy, source, origins = (target_preflight(opts, sc.time_scale, dict(sc.personas), accounts)
                               if opts.target else ({}, "", ({}, {})))
    out = prepare_out(opts.out or default_out(sc))
    record = new_record(sc, opts, policy, source, origins)
    target = make_target(sc, opts, out, record, accounts, accounts_args)
    with contextlib.ExitStack() as parts:
        parts.enter_context(interrupts_stop_the_run())
        try:
            evidence, nemesis = drive(parts, sc, opts, out, target, record)
        except KeyboardInterrupt:
            print("interrupted: stopping the stack", file=sys.stderr)
            return EXIT_INTERRUPTED     # the exit stack stops every part on the way out
    history = merge_history(out, sc, record, evidence, nemesis)
    summary = _read_summary(out / "locust-summary.json")
    record.thresholds = (summary or {}).get("thresholds", {})
    record.load = LoadFacts.from_summary(summary, users=sc.users, workers=opts.workers,
                                         allow_partial=sc.allow_partial)
    record.nemesis_errors = nemesis.errors
    record.portal_restarts = target.restarts
    (out / "run.json").write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")
    return finish_run(out, history, record, quiet=opts.quiet)


def drive(parts: contextlib.ExitStack, sc: Scenario, opts: RunOptions, out: Path, target: Target,
          record: RunRecord) -> tuple[Evidence, Nemesis]:
    """Start the parts in order (each one's stop registered first), run the load, collect the evidence."""
    t_launch = time.time()
    parts.callback(target.stop)
    target.start()
    record.accounts = target.accounts
    locust = LocustProcess(locust_argv(sc, host=target.portal_url, inbox_url=target.inbox_url, out=out,
                                       workers=opts.workers, target_profile=opts.target_profile,
                                       accounts_args=target.accounts_args), out)
    (out / "command.txt").write_text(shlex.join(locust.argv) + "\n", encoding="utf-8")
    record.phases["stack_start_s"] = round(time.time() - t_launch, 3)
    t_locust = time.time()
    parts.callback(locust.stop)
    try:
        locust.start()
    except LoadStartError as exc:
        write_refusal(out, sc, exc.message)
        raise
    record.phases["locust_start_s"] = round(time.time() - t_locust, 3)
    # Scenario time 0: everything is up, so the load begins now, whatever the start-up cost was.
    record.epoch = epoch = time.time() + GO_MARGIN_S
    target.align(epoch, record.fault_plan)
    locust.go(epoch)
    nemesis = start_nemesis(parts, sc, epoch, target)
    hooks = target.portal_hooks()
    progress = Progress(sc, epoch=epoch, portal_url=hooks.url if hooks.event_log else None, nemesis=nemesis,
                        quiet=opts.quiet, client_history=out / "client-history.jsonl")
    parts.callback(progress.stop)
    progress.start()
    locust.wait(sc.wall_duration + LOCUST_GRACE_S)
    record.phases["locust_s"] = round(time.time() - t_locust, 3)
    record.locust_exit = locust.exit_code
    t_collect = time.time()
    nemesis.stop()
    progress.stop()
    evidence = target.collect(epoch, since_wall=t_launch)
    record.phases["drain_and_collect_s"] = round(time.time() - t_collect, 3)
    return evidence, nemesis


def start_nemesis(parts: contextlib.ExitStack, sc: Scenario, epoch: float, target: Target) -> Nemesis:
    """The nemesis part: scenarios/nemesis.py runs the steps; it reaches the portal only through the
    target's hooks (kill -9 and restart only when the run owns the portal)."""
    hooks = target.portal_hooks()
    nemesis = Nemesis(sc.nemesis, epoch=epoch, time_scale=sc.time_scale, seed=sc.seed, portal_url=hooks.url,
                      kill_portal=hooks.kill, restart_portal=hooks.restart, accounts=target.accounts)
    parts.callback(nemesis.stop)
    nemesis.start()
    return nemesis


def merge_history(out: Path, sc: Scenario, record: RunRecord, evidence: Evidence,
                  nemesis: Nemesis) -> list[dict[str, Any]]:
    """The target's evidence, the clients' lines and the nemesis's, merged by wall time into history.jsonl."""
    client_lines = collect.read_jsonl(out / "client-history.jsonl")
    nemesis_lines = fault_window_lines(sc.faults, record.epoch, sc.time_scale, sc.duration) + nemesis.lines
    history = collect.merge(evidence.portal_lines, evidence.inbox_lines, client_lines, nemesis_lines)
    collect.write_jsonl(out / "history.jsonl", history)
    return history


def new_record(sc: Scenario, opts: RunOptions, policy: dict[str, Any], policy_source: str,
               origins: tuple[dict[str, dict[str, Any]], dict[str, Any]] = ({}, {})) -> RunRecord:
    """What the run is asked, before any part starts; the parts fill in the rest. `origins`: where each
    rule of a target profile's policy came from, and its keys that judge nothing (judged_policy.policy_origins)."""
    from_profile, not_judged = origins
    return RunRecord(
        scenario=sc.name, scenario_file=str(sc.path), seed=sc.seed, time_scale=sc.time_scale,
        duration=sc.duration, epoch=time.time(), white_box=opts.target is None,
        policy={**sc.policy, **policy}, policy_source=policy_source or None,
        policy_origins={**scenario_origins(sc), **from_profile}, policy_not_judged=dict(not_judged),
        partners=sc.partners, population=sc.population, fault_plan={"seed": sc.seed, "rules": sc.faults},
        nemesis=[vars(s) for s in sc.nemesis], bugs=sc.bugs, expected=sc.expected, strict=opts.strict,
        users=sc.users, max_error_share=opts.max_error_share, workers=opts.workers, processes=sc.processes,
        thresholds_asked=sc.thresholds, command=shlex.join(sys.argv))


def make_target(sc: Scenario, opts: RunOptions, out: Path, record: RunRecord, accounts: list[dict[str, Any]],
                accounts_args: list[str]) -> Target:
    """The --target portal and inbox, or the local reference stack (its files written into the run folder)."""
    policy_file = write_toml(out / "policy.toml", sc.policy) if sc.policy else None
    faults_file = write_toml(out / "faults.toml", {"seed": sc.seed}, {"rules": sc.faults})
    if opts.target:
        return ExternalTarget(opts.target, opts.inbox_url or "", accounts, accounts_args, sc.time_scale)
    # the stack's own epoch is provisional: its clock is moved onto the run's axis at the go
    return LocalTarget(StackConfig(out=out, epoch=record.epoch, time_scale=sc.time_scale, seed=sc.seed,
                                   partners=sc.partners, population=sc.population, processes=sc.processes,
                                   bugs=sc.bugs, policy_file=policy_file, faults_file=faults_file))


@contextlib.contextmanager
def interrupts_stop_the_run() -> Iterator[None]:
    """SIGINT and SIGTERM become KeyboardInterrupt, so both stop the run through the same teardown, also
    when the shell that started us ignored SIGINT (a background job inherits SIG_IGN, and Python then
    installs no handler)."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def default_out(sc: Scenario) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-" + "-".join(sc.bugs) if sc.bugs else ""
    return Path("runs") / f"{stamp}-{sc.name}{suffix}"


def prepare_out(out: Path) -> Path:
    """The run folder and its logs/, or SetupError in one line (an existing file, /proc, no permission)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        probe = out / ".mfa-harness-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise SetupError(f"--out {out}: exists and is not a folder", option="--out") from None
    except OSError as exc:
        raise SetupError(f"--out {out}: cannot write there ({exc.strerror or exc})", option="--out") from None
    return out


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


def free_port() -> int:
    """A loopback port the OS reports free (used for Locust's master, which cannot bind port 0)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
