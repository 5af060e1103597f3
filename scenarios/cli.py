"""The `mfa-harness` command: list, run and check scenarios.

Exit codes: 0 pass; 1 an invariant is not as expected; 3 a threshold missed (or a `compare
--fail-if` gate tripped); 2 usage or setup error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mfa_harness import cli_args
from mfa_harness.errors import EXIT_GATE, EXIT_SETUP, HarnessError, OptionError, SetupError, StartError

from . import bugmap
from .spec import MAX_DURATION, MAX_TIME_SCALE, MAX_USERS, ScenarioError, catalog, load


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_SETUP, f"mfa-harness: error: {message}\n")


UP_ACCOUNTS = 100    # `up`'s default: the README's `locust ... -u 50` finds an account for every user
UP_MAX_PROCESSES = 64    # pre-forked portal processes `up` starts at most (each is a whole Tornado server)
UP_PORTS = (("portal_port", "--portal-port"), ("inbox_http_port", "--inbox-http-port"), ("smtp_port", "--smtp-port"))


def _same_port(args: argparse.Namespace) -> str | None:
    """'--a and --b are both N' when two fixed `up` ports collide."""
    seen: dict[int, str] = {}
    for attr, flag in UP_PORTS:
        port = getattr(args, attr)
        if port and port in seen:
            return f"{seen[port]} and {flag} are both {port}"
        seen.setdefault(port, flag)
    return None


# Which option moves each listener of `up` (a StartError's child, and its cause's listener).
LISTENER_FLAGS = {("portal", "http"): "--portal-port", ("inbox", "smtp"): "--smtp-port",
                  ("inbox", "http"): "--inbox-http-port"}


def _start_failure(exc: HarnessError) -> str:
    """A child that could not start, as one line naming the option to change when a listener could not bind."""
    if not isinstance(exc, StartError) or not exc.reason:
        return exc.message
    flag = LISTENER_FLAGS.get((exc.child, exc.cause.get("listener")))
    hint = f" (choose another {flag}, or 0 for a free one)" if flag else ""
    return f"{exc.child} did not start: {exc.reason}{hint}"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mfa-harness", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                   help="print the installed mfa-harness version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    sub.add_parser("list", help="the scenario catalogue")
    _add_run_parser(sub)
    c = sub.add_parser("check", help="re-check a finished run's saved history (no servers)")
    c.add_argument("run_dir", type=Path, help="a finished run's folder (with run.json and history.jsonl)")
    c.add_argument("--strict", action="store_true", default=None,
                   help="an unknown invariant verdict fails the check (default: as the run was made)")
    sub.add_parser("bugs", help="planted portal bugs and the invariant each must break")
    cmp_ = sub.add_parser("compare", help="two finished runs side by side (metrics, failed logins, outcomes)")
    cmp_.add_argument("run_a", type=Path, help="the baseline run's folder (A)")
    cmp_.add_argument("run_b", type=Path, help="the run compared with it (B)")
    cmp_.add_argument("--json", action="store_true", help="print the comparison as JSON (rows, gates, passed)")
    cmp_.add_argument("--fail-if", action="append", default=[], metavar="EXPR", type=_gate,
                      help="regression gate, repeatable: 'METRIC OP CHANGE' compares B with A, e.g. "
                      "'logins_failed > +10%%' (relative), 'login_ok_p95_s > +2' (absolute change), "
                      "'logins_failed > 5' (B's value); a gate that trips exits 3")
    _add_up_parser(sub)
    pr = sub.add_parser("probe", help="walk one of each flow of a target portal; how each page was read")
    pr.add_argument("--target", required=True, help="URL of the running portal")
    pr.add_argument("--inbox-url", required=True, help="URL of the inbox API its mail goes to")
    pr.add_argument("--target-profile", type=Path, help="target profile TOML (default: the reference portal's)")
    pr.add_argument("--accounts-file", type=Path, metavar="FILE", help="accounts (JSON list)", required=True)
    sub.add_parser("locust", add_help=False,
                   help="Locust with the harness's locustfile: `mfa-harness locust [LOCUST OPTIONS]` runs "
                   "`locust -f <installed locustfile> ...` (with --processes N: master on loopback and a free "
                   "port); `mfa-harness locust --path` prints that file's path")
    return p


def _add_run_parser(sub: Any) -> None:
    """`run SCENARIO` and its overrides (checked together once, by RunOptions)."""
    r = sub.add_parser("run", help="run a scenario end to end and check it")
    r.add_argument("scenario", help="catalogue name or path to a scenario TOML file")
    r.add_argument("--out", type=Path, help="output folder (default runs/<time>-<scenario>)")
    r.add_argument("--time-scale", type=cli_args.time_scale,
                   help=f"scenario seconds per wall second (default: the scenario file's; at most {MAX_TIME_SCALE:g})")
    r.add_argument("--duration", type=cli_args.duration(positive=True, maximum=MAX_DURATION),
                   help="scenario time, e.g. 300, 90s, 5m, 2h (at most 7d)")
    r.add_argument("--users", type=cli_args.integer(1, maximum=MAX_USERS),
                   help=f"concurrent Locust users (default: the scenario file's; at most {MAX_USERS})")
    r.add_argument("--seed", type=int, help="seed of accounts, user decisions and faults (default: the file's)")
    r.add_argument("--workers", type=cli_args.non_negative_int, default=0, help="Locust worker processes (0: one process)")
    r.add_argument("--bug", action="append", default=[], metavar="NAME",
                   help="planted portal bug; the run then passes only if the checker catches it")
    r.add_argument("--target", help="URL of an already running portal (black-box checks only)")
    r.add_argument("--inbox-url", help="inbox URL (with --target)")
    r.add_argument("--target-profile", type=Path, help="target profile TOML for a foreign portal")
    acc = r.add_mutually_exclusive_group()
    acc.add_argument("--accounts-file", type=Path, metavar="FILE",
                     help="accounts for --target as CSV or JSON (default: TARGET/_harness/accounts, if it answers)")
    acc.add_argument("--accounts-url", metavar="URL", help="URL answering the accounts as JSON (with --target)")
    r.add_argument("--strict", action="store_true", help="an unknown invariant verdict fails the run")
    r.add_argument("--max-error-share", type=cli_args.number(0.0, maximum=1.0), default=None, metavar="SHARE",
                   help="largest share of portal steps answered 5xx or with an unclassified page for a run "
                        "to pass (default 0.05)")
    r.add_argument("--quiet", action="store_true", help="no progress or summary output")


def _add_up_parser(sub: Any) -> None:
    """`up`: the stack for a person at a browser, on fixed or free ports."""
    u = sub.add_parser("up", help="start portal and inbox for a person at a browser; Ctrl-C stops")
    u.add_argument("--out", type=Path, help="run folder (default runs/<time>-up)")
    u.add_argument("--seed", type=int, default=1, help="Faker seed of the seeded accounts (default 1)")
    u.add_argument("--partners", type=cli_args.positive_int, default=UP_ACCOUNTS,
                   help=f"how many accounts to seed (default {UP_ACCOUNTS}: enough for the printed Locust "
                   "command's users, each of which takes its own account)")
    u.add_argument("--time-scale", type=cli_args.time_scale, default=1.0,
                   help="scenario seconds per wall second: 30 makes the 5-minute code expiry 10 s (default 1)")
    u.add_argument("--password-profile", choices=("cheap", "default"), default="cheap",
                   help="Argon2 cost of the seeded passwords: 'cheap' (default here, for load tests) or "
                   "'default' (the production cost, ~0.1-7 s per login under load)")
    u.add_argument("--policy", type=Path, help="portal policy overrides (TOML)")
    u.add_argument("--bug", action="append", default=[], metavar="NAME", help="planted portal bug")
    u.add_argument("--processes", type=cli_args.integer(1, maximum=UP_MAX_PROCESSES), default=None,
                   help="pre-forked portal processes sharing the port and the database (default 1, or what the "
                   f"--bug needs: per-process-secret shows with 2; at most {UP_MAX_PROCESSES})")
    u.add_argument("--portal-port", type=cli_args.port, default=0, help="portal HTTP port (default 0: a free one)")
    u.add_argument("--inbox-http-port", type=cli_args.port, default=0, help="inbox page and API port (default 0: a free one)")
    u.add_argument("--smtp-port", type=cli_args.port, default=0, help="inbox SMTP port (default 0: a free one)")


def _version() -> str:
    """The installed distribution's version (the source tree's pyproject when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mfa-harness")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _gate(text: str) -> Any:
    """An argparse type: a `--fail-if` expression, checked before any run folder is read."""
    from .compare import CompareError, parse_gate

    try:
        return parse_gate(text)
    except CompareError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _flag_value(args: list[str], flag: str) -> str | None:
    """The value of `--flag V` or `--flag=V` in a Locust command line, if given."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def distributed_args(args: list[str]) -> list[str]:
    """`--processes N` made safe on a shared machine: the master on loopback and a free port, workers dialling it.

    Plain Locust binds the master to every interface on 5557 and its forked workers always dial
    `--master-port` (5557 unless given), whatever `--master-bind-port` says. Options given
    explicitly are kept; only the missing ones are added.
    """
    if _flag_value(args, "--processes") is None or "--worker" in args:
        return args
    extra: list[str] = []
    if _flag_value(args, "--master-bind-host") is None:
        extra += ["--master-bind-host", "127.0.0.1"]
    port = _flag_value(args, "--master-bind-port") or _flag_value(args, "--master-port")
    if port is None:
        import socket

        with socket.socket() as probe:          # a port the OS says is free now (Locust binds it next)
            probe.bind(("127.0.0.1", 0))
            port = str(probe.getsockname()[1])
    for flag in ("--master-bind-port", "--master-port"):
        if _flag_value(args, flag) is None:
            extra += [flag, port]
    return [*args, *extra]


def locust_main(args: list[str]) -> int:
    """`mfa-harness locust ...`: Locust with the installed locustfile (replaces this process)."""
    import os

    from .up import LOCUSTFILE

    if args[:1] == ["--path"]:
        print(LOCUSTFILE)
        return 0
    if any(a in ("-f", "--locustfile") or a.startswith(("-f=", "--locustfile=")) for a in args):
        print("mfa-harness: error: `mfa-harness locust` sets -f itself (use `locust -f` for another file)",
              file=sys.stderr)
        return EXIT_SETUP
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *distributed_args(args)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0    # not reached


def _probe(args: argparse.Namespace) -> int:
    """`probe`: one line per page or mail on stdout, one per mismatch on stderr; exit 1 on any."""
    from mfa_harness.loadtests.profile import ProfileError, load_profile

    from .probe import load_accounts, probe

    try:
        profile = load_profile(args.target_profile)
        accounts = load_accounts(args.accounts_file)
    except (ProfileError, OSError, ValueError) as exc:
        raise SetupError(str(exc), command="probe") from None
    report = probe(args.target, args.inbox_url, profile, accounts)
    for line in report.lines:
        print(line)
    for line in report.problems:
        print(f"mismatch: {line}", file=sys.stderr)
    for line in report.findings:
        print(f"finding: {line}", file=sys.stderr)
    print(f"probe {'ok' if report.ok else 'FAILED'}: {profile.name} ({profile.source}) at {args.target}")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command; a reader that closes the pipe early (`list | head -2`) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # stdout's reader is gone: point it at /dev/null so the interpreter's last flush is silent
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["locust"]:
        return locust_main(argv[1:])
    args = build_parser().parse_args(argv)
    command = {"list": _list, "bugs": _bugs, "compare": _compare, "up": _up, "probe": _probe,
               "check": _check, "run": _run}[args.command]
    try:
        return command(args)
    except ScenarioError as exc:
        print(f"mfa-harness: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except HarnessError as exc:     # its own message, its own exit code; never a traceback
        print(f"mfa-harness: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _list(args: argparse.Namespace) -> int:
    for sc in catalog():
        print(f"{sc.name:22s} {sc.description}")
    return 0


def _bugs(args: argparse.Namespace) -> int:
    for name, bug in bugmap.PLANTED_BUGS.items():
        shown = ", ".join(bug.invariants) or "(black box only)"
        extra = "" if bug.black_box is None else f"  black box: {', '.join(bug.black_box) or 'undecidable'}"
        print(f"{name:24s} breaks {shown:24s} shown by scenario {bug.scenario}{extra}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare_runs

    text, passed = compare_runs(args.run_a, args.run_b, args.fail_if, as_json=args.json)   # CompareError
    print(text)
    return 0 if passed else EXIT_GATE


def _up(args: argparse.Namespace) -> int:
    import time as _time

    from .up import up

    if args.policy and not args.policy.is_file():
        raise OptionError("--policy", f"--policy {args.policy}: no such file")
    unknown = [b for b in args.bug if b not in bugmap.PLANTED_BUGS]
    if unknown:
        raise OptionError("--bug", f"unknown bug {unknown[0]!r} (see `mfa-harness bugs`)", value=unknown[0])
    clash = _same_port(args)
    if clash:
        raise SetupError(clash)
    needed = max((bugmap.PLANTED_BUGS[b].processes for b in args.bug), default=1)
    if args.processes is not None and args.processes < needed:
        raise OptionError("--processes", f"--processes {args.processes}: --bug {_needs_processes(args.bug, needed)} "
                          f"shows only with {needed} portal processes or more", value=args.processes)
    out = args.out or Path("runs") / f"{_time.strftime('%Y%m%d-%H%M%S')}-up"
    try:
        return up(out=out, seed=args.seed, partners=args.partners, time_scale=args.time_scale,
                  bugs=args.bug, policy_file=args.policy, password_profile=args.password_profile,
                  processes=args.processes or needed, portal_port=args.portal_port, inbox_http_port=args.inbox_http_port, smtp_port=args.smtp_port)
    except StartError as exc:
        raise SetupError(_start_failure(exc), **exc.fields) from None


def _needs_processes(bugs: list[str], needed: int) -> str:
    """The first planted bug that needs `needed` portal processes."""
    return next(b for b in bugs if bugmap.PLANTED_BUGS[b].processes == needed)


def _check(args: argparse.Namespace) -> int:
    from .verdict_io import check_dir

    return check_dir(args.run_dir, strict=args.strict)


def _run(args: argparse.Namespace) -> int:
    """`run`: the options (checked once, by RunOptions), the scenario as it will run, the run."""
    from .runner import RunOptions, apply_overrides, run

    opts = RunOptions(out=args.out, time_scale=args.time_scale, duration=args.duration, users=args.users,
                      seed=args.seed, workers=args.workers, bugs=args.bug, target=args.target,
                      inbox_url=args.inbox_url, target_profile=args.target_profile,
                      accounts_file=args.accounts_file, accounts_url=args.accounts_url, strict=args.strict,
                      quiet=args.quiet, max_error_share=args.max_error_share)
    return run(apply_overrides(load(args.scenario), opts), opts)


if __name__ == "__main__":
    sys.exit(main())
