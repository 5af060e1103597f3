"""Unit tests of the search parser and code extraction."""

from __future__ import annotations

import pytest

from mfa_harness.fake_smtp.codes import CodeExtractor
from mfa_harness.fake_smtp.search import QueryError, Term, parse


def test_parse_fields_quotes_negation_and_unknown_fields() -> None:
    q = parse('to:A@B.com subject:"two words" -is:read !tag:x foo:bar plain')
    assert q.terms == (
        Term("to", "a@b.com", False), Term("subject", "two words", False), Term("is", "read", True),
        Term("tag", "x", True), Term("", "foo:bar", False), Term("", "plain", False))
    assert parse("").terms == ()
    assert parse("   ").terms == ()


def test_dates() -> None:
    q = parse("after:2026-01-01 before:1800000000")
    assert q.terms[0].number == pytest.approx(1767225600.0)
    assert q.terms[1].number == 1800000000.0


@pytest.mark.parametrize("bad", ["after:yesterday", "is:nonsense", "has:wings", "in:trash"])
def test_invalid_queries_are_errors(bad: str) -> None:
    with pytest.raises(QueryError):
        parse(bad)


@pytest.mark.parametrize(("text", "code"), [
    ("Your verification code is: 123456\nRequest reference: ABCDEFGH", "123456"),
    ("CODE: 654321", "654321"),
    ("Use 777777 to sign in.", "777777"),  # a lone six-digit number
    ("Order 111111 or 222222", None),  # ambiguous: two different numbers
    ("No code here, only 1234567 and 12345", None),
    ("Your code is: 123456 (ignore 999999)", "123456"),
])
def test_default_code_extraction(text: str, code: str | None) -> None:
    assert CodeExtractor().extract(text) == code


def test_custom_code_regex() -> None:
    assert CodeExtractor(r"PIN=(\w+)").extract("x PIN=ab12 y") == "ab12"
    assert CodeExtractor(r"\d{4}").extract("pin 4321") == "4321"
    assert CodeExtractor(r"PIN=(\w+)").extract("code: 123456") is None
