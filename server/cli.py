"""Command-line helpers shared by `python -m server` and `python -m server admin`.

The argparse types (ports, numbers, time scales) are the project's, in `mfa_harness.cli_args`.

Errors a user can cause are one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 2."""
    sys.stderr.write(f"python -m server: error: {message}\n")
    sys.exit(2)
