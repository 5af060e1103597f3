"""The one duration syntax (mfa_harness.durations): what it reads, what it refuses, and that
what it writes it reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_harness.durations import MAX_SECONDS, DurationError, format_duration, parse_duration
from mfa_harness.errors import EXIT_SETUP, HarnessError


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("500ms", 0.5), ("100ms", 0.1), ("2h", 7200.0),
    ("9ms", 0.009), ("13ms", 0.013),      # divided by 1000: 9 * 0.001 is 0.009000000000000001
    ("1d", 86400.0), ("0", 0.0), ("0s", 0.0), (" 5 m ", 300.0), (".5s", 0.5), ("1e3ms", 1.0), ("+3s", 3.0),
    ("-0s", 0.0),
])
def test_reads_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty duration"),
    ("   ", "empty duration"),
    ("soon", "invalid duration 'soon'"),
    ("5x", "unknown unit 'x'"),
    ("5M", "unknown unit 'M'"),          # minutes or months? refused rather than guessed
    ("5min", "unknown unit 'min'"),
    ("-5s", "must be >= 0"),
    ("-1", "must be >= 0"),
    ("1e400", "must be <= "),             # a float overflow is "too big", not inf seconds
    ("9" * 400 + "d", "must be <= "),
    ("3651d", "must be <= "),
    ("inf", "invalid duration"),
    ("nan", "invalid duration"),
    ("5 s s", "invalid duration"),
    ("1,5m", "invalid duration"),
])
def test_refuses_bad_input_with_one_line(text: str, words: str) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    assert words in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.text == text and err.value.reason == str(err.value)


def test_a_duration_error_is_a_harness_error_and_still_a_value_error() -> None:
    with pytest.raises(HarnessError) as err:             # the command line's one handler: exit 2, one line
        parse_duration("5 fortnights")
    assert isinstance(err.value, ValueError) and err.value.exit_code == EXIT_SETUP   # argparse types still catch it
    assert err.value.fields == {"text": "5 fortnights", "reason": err.value.reason}


def test_caller_bounds_and_required_unit() -> None:
    assert parse_duration("7d", maximum=7 * 86400) == 7 * 86400
    with pytest.raises(DurationError, match=r"must be <= 604800 seconds \(7d\)"):
        parse_duration("8d", maximum=7 * 86400)
    with pytest.raises(DurationError, match="must be > 0"):
        parse_duration("0ms", positive=True)
    with pytest.raises(DurationError, match="needs a unit"):
        parse_duration("8", unit_required=True)
    assert parse_duration("8s", unit_required=True) == 8.0


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0s"), (90.0, "90s"), (120.0, "2m"), (7200.0, "2h"), (86400.0, "1d"), (0.5, "500ms"),
    (0.1, "100ms"), (1.25, "1250ms"), (0.0001, "0.0001s"), (90061.0, "90061s"),
])
def test_formats_with_the_largest_exact_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_format_refuses_what_is_not_a_duration(bad: float) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)


@given(st.floats(min_value=0.0, max_value=MAX_SECONDS, allow_nan=False, allow_infinity=False))
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_parse_then_format_then_parse_is_stable(count: int, unit: str) -> None:
    text = f"{count}{unit}"
    try:
        seconds = parse_duration(text)
    except DurationError:
        assert count * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit] > MAX_SECONDS
        return
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["90", "1500ms", "90s", "5m", "2h", "1d"])
def test_every_consumer_reads_the_one_syntax(text: str) -> None:
    """Thresholds, the inbox's --max-age and mfa-harness --duration agree on what a duration is
    (thresholds knew ms/s/m only, --duration s/m/h, the inbox s/m/h/d)."""
    from mfa_harness.fake_smtp.__main__ import build_parser as inbox_parser
    from mfa_harness.loadtests.thresholds import parse as threshold
    from mfa_harness.scenarios.cli import build_parser as cli_parser

    seconds = parse_duration(text)
    assert inbox_parser().parse_args(["--max-age", text]).max_age == seconds
    assert cli_parser().parse_args(["run", "smoke", "--duration", text]).duration == seconds
    if text != "90":                                   # a threshold on a duration needs its unit
        assert threshold(f"flow.p95 < {text}").limit == seconds
