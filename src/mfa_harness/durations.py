"""The one duration syntax of the project: a number and a unit, `ms`, `s`, `m`, `h` or `d`.

`90`, `90s`, `1.5m`, `500ms`, `2h`, `1d`; a bare number is seconds unless the caller asks for
a unit (thresholds do: `flow.p95 < 8` is more likely a mistake than eight seconds). Command
lines (`--duration`, `--max-age`), thresholds and the inbox all read durations here, so a
value that works in one place works in every other. Errors carry the text and the reason.
"""

from __future__ import annotations

import math
import re

from mfa_harness.errors import HarnessError

# Units and their length in seconds. Units are lower case only: `5M` could mean months.
UNITS: dict[str, int | float] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_NAMES = "ms, s, m, h or d"
EXAMPLES = "e.g. 90, 500ms, 30s, 5m, 2h, 1d"
# Ten years: a bound every part can honour (a delay this long is still a number the inbox can
# hold); callers with a tighter bound (a run's `--duration`) pass their own `maximum`.
MAX_SECONDS = 10 * 365 * 86400.0

NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_DURATION = re.compile(rf"^\s*([-+]?)({NUMBER})\s*([A-Za-z]*)\s*$")


class DurationError(HarnessError, ValueError):
    """A text that is not a duration; `text` is what was given, `reason` why it was refused."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(reason, text=text, reason=reason)
        self.text = text
        self.reason = reason


def to_seconds(number: float, unit: str) -> float:
    """`number` of `unit` in seconds; milliseconds are divided so that `100ms` is exactly 0.1."""
    if unit == "ms":
        return number / 1000
    return number * UNITS[unit]


def parse_duration(text: str, *, unit_required: bool = False, positive: bool = False,
                   maximum: float = MAX_SECONDS) -> float:
    """Seconds of a duration text; DurationError (a ValueError) with a one-line reason otherwise.

    `positive` refuses zero; `maximum` is the largest accepted value in seconds.
    """
    if not isinstance(text, str) or not text.strip():
        raise DurationError(str(text), f"empty duration (use {EXAMPLES})")
    m = _DURATION.match(text)
    if not m:
        raise DurationError(text, f"invalid duration {text!r} (use {EXAMPLES})")
    sign, number, unit = m.groups()
    if unit and unit not in UNITS:
        raise DurationError(text, f"unknown unit {unit!r} in duration {text!r} (use {UNIT_NAMES})")
    if not unit and unit_required:
        raise DurationError(text, f"duration {text!r} needs a unit ({UNIT_NAMES})")
    seconds = to_seconds(float(number), unit or "s")
    if sign == "-" and seconds != 0:
        raise DurationError(text, f"duration must be >= 0: {text!r}")
    if positive and seconds == 0:
        raise DurationError(text, f"duration must be > 0: {text!r}")
    if not seconds <= maximum:      # also catches inf from a number too long for a float
        raise DurationError(text, f"duration must be <= {maximum:g} seconds ({format_duration(maximum)}): {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest text that `parse_duration` reads back as exactly `seconds`.

    Whole days, hours, minutes or seconds get their unit (`2h`, not `7200s`); whole
    milliseconds `ms`; anything else Python's shortest exact float text with `s`.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds!r}")
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        count = seconds / UNITS[unit]
        if count == int(count) and to_seconds(int(count), unit) == seconds:
            return f"{int(count)}{unit}"
    ms = seconds * 1000
    if ms == int(ms) and to_seconds(int(ms), "ms") == seconds:
        return f"{int(ms)}ms"
    return f"{seconds!r}s"
