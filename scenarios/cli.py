"""The `mfa-harness` command: list, run and check scenarios.

Exit codes: 0 pass; 1 an invariant is not as expected; 3 a threshold missed; 2 usage or setup
error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import bugmap
from .spec import ScenarioError, catalog, load

EXIT_SETUP = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_SETUP, f"mfa-harness: error: {message}\n")


def _positive(kind: type) -> Any:
    """An argparse type: a number of `kind` greater than zero, with a one-line message otherwise."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value
    return convert


_positive_float, _positive_int = _positive(float), _positive(int)


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning a free one chosen by the OS."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return value


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


def _start_failure(exc: Exception) -> str:
    """A child that could not start, as one line naming the option to change when it is a port."""
    from .stack import StackError

    if not isinstance(exc, StackError) or not exc.reason:
        return str(exc)
    flag = {"portal": "--portal-port"}.get(exc.child) or (
        "--smtp-port" if "for SMTP" in exc.reason else "--inbox-http-port" if "for HTTP" in exc.reason else "")
    hint = f" (choose another {flag}, or 0 for a free one)" if flag and "listen" in exc.reason else ""
    return f"{exc.child} did not start: {exc.reason}{hint}"


def _duration(text: str) -> float:
    """Scenario seconds: `90`, `90s`, `5m`, `1h`."""
    units = {"s": 1, "m": 60, "h": 3600}
    num, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    return _positive_float(num) * units[unit]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mfa-harness", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the scenario catalogue")
    r = sub.add_parser("run", help="run a scenario end to end and check it")
    r.add_argument("scenario", help="catalogue name or path to a scenario TOML file")
    r.add_argument("--out", type=Path, help="output folder (default runs/<time>-<scenario>)")
    r.add_argument("--time-scale", type=_positive_float)
    r.add_argument("--duration", type=_duration, help="scenario time, e.g. 300, 5m")
    r.add_argument("--users", type=_positive_int)
    r.add_argument("--seed", type=int)
    r.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: one process)")
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
    r.add_argument("--max-error-share", type=float, default=None, metavar="SHARE",
                   help="largest share of portal steps answered 5xx or with an unclassified page for a run "
                        "to pass (default 0.05)")
    r.add_argument("--quiet", action="store_true", help="no progress or summary output")
    c = sub.add_parser("check", help="re-check a finished run's saved history (no servers)")
    c.add_argument("run_dir", type=Path)
    c.add_argument("--strict", action="store_true", default=None)
    sub.add_parser("bugs", help="planted portal bugs and the invariant each must break")
    cmp_ = sub.add_parser("compare", help="two finished runs side by side (metrics, failed logins, outcomes)")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    u = sub.add_parser("up", help="start portal and inbox for a person at a browser; Ctrl-C stops")
    u.add_argument("--out", type=Path, help="run folder (default runs/<time>-up)")
    u.add_argument("--seed", type=int, default=1)
    u.add_argument("--partners", type=_positive_int, default=12)
    u.add_argument("--time-scale", type=_positive_float, default=1.0)
    u.add_argument("--policy", type=Path, help="portal policy overrides (TOML)")
    u.add_argument("--bug", action="append", default=[], metavar="NAME", help="planted portal bug")
    u.add_argument("--portal-port", type=_port, default=0, help="portal HTTP port (default 0: a free one)")
    u.add_argument("--inbox-http-port", type=_port, default=0, help="inbox page and API port (default 0: a free one)")
    u.add_argument("--smtp-port", type=_port, default=0, help="inbox SMTP port (default 0: a free one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .runner import SetupError

    try:
        if args.command == "list":
            for sc in catalog():
                print(f"{sc.name:22s} {sc.description}")
            return 0
        if args.command == "bugs":
            for name, bug in bugmap.PLANTED_BUGS.items():
                shown = ", ".join(bug.invariants) or "(black box only)"
                extra = ("" if bug.black_box is None else
                         f"  black box: {', '.join(bug.black_box) or 'undecidable'}")
                print(f"{name:24s} breaks {shown:24s} shown by scenario {bug.scenario}{extra}")
            return 0
        if args.command == "compare":
            from .compare import CompareError, render

            try:
                print(render(args.run_a, args.run_b))
            except CompareError as exc:
                raise SetupError(str(exc)) from None
            return 0
        if args.command == "up":
            import time as _time

            from .collect import CollectError
            from .stack import StackError
            from .up import up

            if args.policy and not args.policy.is_file():
                raise SetupError(f"--policy {args.policy}: no such file")
            unknown = [b for b in args.bug if b not in bugmap.PLANTED_BUGS]
            if unknown:
                raise SetupError(f"unknown bug {unknown[0]!r} (see `mfa-harness bugs`)")
            clash = _same_port(args)
            if clash:
                raise SetupError(clash)
            out = args.out or Path("runs") / f"{_time.strftime('%Y%m%d-%H%M%S')}-up"
            try:
                return up(out=out, seed=args.seed, partners=args.partners, time_scale=args.time_scale,
                          bugs=args.bug, policy_file=args.policy, portal_port=args.portal_port,
                          inbox_http_port=args.inbox_http_port, smtp_port=args.smtp_port)
            except (StackError, CollectError) as exc:
                raise SetupError(_start_failure(exc)) from None
        if args.command == "check":
            from .verdict_io import check_dir

            return check_dir(args.run_dir, strict=args.strict)
        from .runner import RunOptions, apply_overrides, run

        if args.workers < 0:
            raise SetupError("--workers must be >= 0")
        if args.max_error_share is not None and not 0.0 <= args.max_error_share <= 1.0:
            raise SetupError(f"--max-error-share must be between 0 and 1, got {args.max_error_share}")
        if args.target is not None and args.inbox_url is None:
            raise SetupError("--target needs --inbox-url")
        if args.target is None and args.inbox_url is not None:
            raise SetupError("--inbox-url needs --target (without it the run starts its own inbox)")
        if args.target_profile and not args.target_profile.is_file():
            raise SetupError(f"--target-profile {args.target_profile}: no such file")
        opts = RunOptions(out=args.out, time_scale=args.time_scale, duration=args.duration, users=args.users,
                          seed=args.seed, workers=args.workers, bugs=args.bug, target=args.target,
                          inbox_url=args.inbox_url, target_profile=args.target_profile,
                          accounts_file=args.accounts_file, accounts_url=args.accounts_url, strict=args.strict,
                          quiet=args.quiet, max_error_share=args.max_error_share)
        sc = apply_overrides(load(args.scenario), opts)
        return run(sc, opts)
    except ScenarioError as exc:
        print(f"mfa-harness: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except SetupError as exc:
        print(f"mfa-harness: {exc}", file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
