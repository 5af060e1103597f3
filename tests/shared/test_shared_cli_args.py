"""The shared argparse types (mfa_harness.cli_args): one wording of each mistake, through a real parser."""

from __future__ import annotations

import argparse

import pytest

from mfa_harness import cli_args


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Refused(message)


def parse(type_: object, text: str) -> object:
    p = _Parser(prog="t")
    p.add_argument("--x", type=type_)
    return p.parse_args([f"--x={text}"]).x


@pytest.mark.parametrize(("type_", "text", "value"), [
    (cli_args.port, "0", 0), (cli_args.port, "65535", 65535), (cli_args.positive_float, "0.5", 0.5),
    (cli_args.non_negative_int, "0", 0), (cli_args.positive_int, "3", 3), (cli_args.time_scale, "10000", 10000.0),
    (cli_args.time_scale, "1e-3", 0.001), (cli_args.duration(), "5m", 300.0), (cli_args.duration(), "0", 0.0),
    (cli_args.number(0.0), "0", 0.0), (cli_args.integer(-5, maximum=5), "-5", -5),
])
def test_accepts(type_: object, text: str, value: object) -> None:
    assert parse(type_, text) == value


@pytest.mark.parametrize(("type_", "text", "message"), [
    (cli_args.port, "70000", "argument --x: not a port number (0-65535): '70000'"),
    (cli_args.port, "-1", "argument --x: not a port number (0-65535): '-1'"),
    (cli_args.port, "65536", "argument --x: not a port number (0-65535): '65536'"),
    (cli_args.port, "http", "argument --x: not a port number (0-65535): 'http'"),
    (cli_args.positive_float, "0", "argument --x: must be > 0: '0'"),
    (cli_args.positive_float, "nan", "argument --x: must be > 0: 'nan'"),
    (cli_args.positive_float, "inf", "argument --x: must be a finite number: 'inf'"),
    (cli_args.positive_float, "abc", "argument --x: not a number: 'abc'"),
    (cli_args.non_negative_int, "-1", "argument --x: must be >= 0: '-1'"),
    (cli_args.non_negative_int, "1.5", "argument --x: not an integer: '1.5'"),
    (cli_args.positive_int, "0", "argument --x: must be >= 1: '0'"),
    (cli_args.time_scale, "0", "argument --x: must be > 0: '0'"),
    (cli_args.time_scale, "1e308", "argument --x: must be <= 10000: '1e308'"),
    (cli_args.time_scale, "inf", "argument --x: must be <= 10000: 'inf'"),
    (cli_args.time_scale, "nan", "argument --x: must be > 0: 'nan'"),
    (cli_args.integer(maximum=5), "6", "argument --x: must be <= 5: '6'"),
    (cli_args.duration(), "soon", "argument --x: invalid duration 'soon'"),
    (cli_args.duration(), "-5s", "argument --x: duration must be >= 0: '-5s'"),
    (cli_args.duration(), "5x", "argument --x: unknown unit 'x'"),
    (cli_args.duration(positive=True), "0s", "argument --x: duration must be > 0: '0s'"),
    (cli_args.duration(maximum=60), "2m", "argument --x: duration must be <= 60 seconds (1m): '2m'"),
])
def test_refuses_with_one_clear_line(type_: object, text: str, message: str) -> None:
    with pytest.raises(_Refused) as err:
        parse(type_, text)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)
