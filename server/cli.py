"""Command-line helpers shared by `python -m mfa_harness.server` and `python -m mfa_harness.server admin`.

The argparse types (ports, numbers, time scales) are the project's, in `mfa_harness.cli_args`.

Errors a user can cause are one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from mfa_harness.errors import tell_parent


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        tell_parent(message)
        sys.exit(2)


def fail(message: str, **fields: object) -> NoReturn:
    """One line on stderr, one JSON error line on stdout for a parent (with `fields`), exit 2."""
    say_error(message, **fields)
    sys.exit(2)


def say_error(message: str, **fields: object) -> None:
    """A start-up error: one line on stderr for a person, one JSON line on stdout for the parent
    waiting for the ready line (mfa_harness.errors; `fields` such as listener and port)."""
    sys.stderr.write(f"python -m mfa_harness.server: error: {message}\n")
    tell_parent(message, **fields)

