"""Command line: ``python -m mfa_harness.fake_smtp [options]``.

Bad options, an unreadable or invalid fault plan, or a port in use give one line on
stderr and exit status 2; SIGTERM/SIGINT stop cleanly with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
import tomllib
from collections.abc import Sequence

from mfa_harness.cli_args import duration, epoch, non_negative_int, port, time_scale
from mfa_harness.errors import tell_parent
from mfa_harness.fake_smtp.app import BindError, Config, serve
from mfa_harness.fake_smtp.faults import Plan, PlanError, parse_plan

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def size(text: str) -> int:
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (use bytes or e.g. 512k, 10m)")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m mfa_harness.fake_smtp",
                description="Local SMTP inbox with a Mailpit-compatible HTTP API and fault injection.")
    p.add_argument("--smtp-host", default="127.0.0.1", help="SMTP address to listen on (default 127.0.0.1)")
    p.add_argument("--smtp-port", type=port, default=1025, help="0 = let the OS choose")
    p.add_argument("--http-host", default="127.0.0.1", help="address of the inbox page and API (default 127.0.0.1)")
    p.add_argument("--http-port", type=port, default=8025, help="0 = let the OS choose")
    p.add_argument("--time-scale", type=time_scale, default=1.0,
                   help="scenario time runs this many times faster than wall time")
    p.add_argument("--epoch", type=epoch, default=None, help="Unix wall time of scenario time 0 (default: now)")
    p.add_argument("--faults", metavar="FILE", help="fault plan (TOML with [[rules]])")
    p.add_argument("--seed", type=int, default=None, help="RNG seed (overrides the plan's seed)")
    p.add_argument("--max-messages", type=non_negative_int, default=100_000,
                   help="keep at most N messages, oldest pruned first (0 = no limit)")
    p.add_argument("--max-age", type=duration(), default=0.0,
                   help="prune messages older than this wall duration (e.g. 1h, 90m, 2d; 0 = never)")
    p.add_argument("--max-bytes", type=size, default=1024**3,
                   help="keep at most this many bytes of messages, oldest pruned first (default 1g; 0 = no limit)")
    p.add_argument("--max-message-size", type=size, default=10 * 1024 * 1024,
                   help="bigger messages are refused with 552 (default 10m)")
    p.add_argument("--max-recipients", type=non_negative_int, default=100,
                   help="RCPTs per message; past it 452 too many recipients (default 100; 0 = no limit)")
    p.add_argument("--maildir", metavar="PATH", help="persist messages in this Maildir")
    p.add_argument("--code-regex", default=None, help="regex for the verification code (group 1 if any)")
    p.add_argument("--history-file", metavar="FILE", help="also append delivery-history lines to FILE")
    p.add_argument("--max-history", type=non_negative_int, default=500_000,
                   help="delivery-history lines kept in memory (0 = all)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="stderr log level (default WARNING)")
    return p


def load_plan(path: str) -> Plan:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise UsageError(f"--faults {path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--faults {path}: invalid TOML: {exc}") from None
    try:
        return parse_plan(data, path)
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def config_from_args(argv: Sequence[str] | None) -> tuple[Config, str]:
    args = build_parser().parse_args(argv)
    if args.code_regex:
        try:
            re.compile(args.code_regex)
        except re.error as exc:
            raise UsageError(f"--code-regex: invalid regular expression: {exc}") from None
    cfg = Config(
        smtp_host=args.smtp_host, smtp_port=args.smtp_port, http_host=args.http_host, http_port=args.http_port,
        time_scale=args.time_scale, epoch=args.epoch if args.epoch is not None else time.time(),
        plan=load_plan(args.faults) if args.faults else None, seed=args.seed, max_messages=args.max_messages,
        max_age=args.max_age, max_bytes=args.max_bytes, max_message_size=args.max_message_size,
        max_recipients=args.max_recipients, maildir=args.maildir,
        code_regex=args.code_regex, history_file=args.history_file, max_history=args.max_history)
    return cfg, args.log_level


def _fail(message: str, **fields: object) -> int:
    """One line on stderr for a person, one JSON error line on stdout for a parent (its fields), exit 2."""
    print(f"fake_smtp: error: {message}", file=sys.stderr)
    tell_parent(message, **fields)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cfg, level = config_from_args(argv)
    except UsageError as exc:
        return _fail(str(exc))
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if level != "DEBUG":
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(cfg))
    except BindError as exc:
        return _fail(str(exc), listener=exc.listener, host=exc.host, port=exc.port)
    except OSError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
