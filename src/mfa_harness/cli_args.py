"""argparse types shared by every command line: numbers, ports, durations, time scales.

Each function takes the option's text and returns the value, or raises
`argparse.ArgumentTypeError` with one short line that argparse prefixes with the option
(`argument --port: not a port number (0-65535): '70000'`). The portal, the inbox, Locust's
harness options and `mfa-harness` all use these, so the same value is accepted, and the same
mistake worded, everywhere.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from mfa_harness.durations import MAX_SECONDS, DurationError, parse_duration
from mfa_harness.timebase import MAX_TIME_SCALE

__all__ = ["duration", "epoch", "integer", "non_negative_int", "number", "port", "positive_float", "positive_int",
           "time_scale"]


def _bounds(value: float, text: str, minimum: float | None, strict: bool, maximum: float | None) -> None:
    """ArgumentTypeError when `value` is outside the bounds; NaN and infinities never are inside."""
    if minimum is not None and not (value > minimum if strict else value >= minimum):
        raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum:g}: {text!r}")
    if maximum is not None and not value <= maximum:
        raise argparse.ArgumentTypeError(f"must be <= {maximum:g}: {text!r}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number: {text!r}")


def number(minimum: float | None = None, *, strict: bool = False,
           maximum: float | None = None) -> Callable[[str], float]:
    """A finite float type with bounds: `> minimum` when `strict`, else `>= minimum`; `<= maximum`."""
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        _bounds(value, text, minimum, strict, maximum)
        return value
    convert.__name__ = "number"      # argparse names the type in its own messages
    return convert


def integer(minimum: int | None = None, *, maximum: int | None = None) -> Callable[[str], int]:
    """An int type with inclusive bounds."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        _bounds(value, text, minimum, False, maximum)
        return value
    convert.__name__ = "integer"
    return convert


def port(text: str) -> int:
    """A TCP port, 0 meaning a free one chosen by the OS."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return value


positive_float = number(0.0, strict=True)            # a finite float > 0
non_negative_int = integer(0)
positive_int = integer(1)
time_scale = number(0.0, strict=True, maximum=MAX_TIME_SCALE)   # scenario seconds per wall second
time_scale.__name__ = "time scale"
epoch = number(0.0)                    # a Unix wall time (scenario time 0): finite, not before 1970
epoch.__name__ = "epoch"


def duration(*, positive: bool = False, maximum: float = MAX_SECONDS) -> Callable[[str], float]:
    """A duration type (mfa_harness.durations syntax: `90`, `500ms`, `30s`, `5m`, `2h`, `1d`) in seconds."""
    def convert(text: str) -> float:
        try:
            return parse_duration(text, positive=positive, maximum=maximum)
        except DurationError as exc:
            raise argparse.ArgumentTypeError(exc.reason) from None
    convert.__name__ = "duration"
    return convert
