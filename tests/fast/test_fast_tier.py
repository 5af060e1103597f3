"""The fast tier's rule (tests/fast_tier.py): what it counts as pure, and its guard."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fast_tier import NotPure, Purity, may_hold_pure_tests, no_process_no_socket

from mfa_harness import checker
from mfa_harness.scenarios import runner, spec, stack


def _starts_a_process() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def _calls_one_that_does() -> None:
    _starts_a_process()


def _adds(a: int, b: int) -> int:
    return a + b


def test_purity_follows_names_through_the_projects_code() -> None:
    purity = Purity()
    assert purity.reason(_adds) is None
    assert purity.reason(_starts_a_process) == "subprocess"
    assert purity.reason(_calls_one_that_does) == "_starts_a_process -> subprocess"
    assert purity.reason(spec.load) is None and purity.reason(checker.check) is None
    assert purity.reason(runner.run) and purity.reason(stack.LocalStack)


@pytest.mark.parametrize(("source", "pure"), [
    ("def test_a():\n    assert 1 + 1 == 2\n", True),
    ("import subprocess\n\ndef run():\n    subprocess.run(['true'])\n\ndef test_a():\n    run()\n", False),
    ("import pytest\n\n@pytest.mark.slow\ndef test_a():\n    pass\n", False),
    ("import pytest\n\npytestmark = [pytest.mark.slow]\n\ndef test_a():\n    pass\n", False),
    ("import pytest\n\n@pytest.mark.parametrize('x', ['pytest.mark.slow'])\ndef test_a(x):\n    pass\n", True),
    ("from hypothesis import given, strategies\n\n@given(strategies.integers())\ndef test_a(n):\n    pass\n",
     False),
    ("import pytest\nimport socket\n\n@pytest.fixture\ndef port():\n    return socket.socket()\n\n"
     "def test_a(port):\n    pass\n\ndef test_b():\n    pass\n", True),      # test_b needs no socket
    ("from tornado.testing import AsyncHTTPTestCase\n\nclass T(AsyncHTTPTestCase):\n"
     "    def test_a(self):\n        pass\n", False),
])
def test_a_file_is_skipped_by_the_fast_tier_only_when_no_test_of_it_can_be_pure(
        tmp_path: Path, source: str, pure: bool) -> None:
    path = tmp_path / "test_sample.py"
    path.write_text(source, encoding="utf-8")
    assert may_hold_pure_tests(path) is pure


def test_the_guard_refuses_processes_and_sockets_and_restores_them() -> None:
    with no_process_no_socket():
        with pytest.raises(NotPure, match="must not call Popen._execute_child"):
            _starts_a_process()
        with socket.socket() as sock, pytest.raises(NotPure, match="must not call socket.bind"):
            sock.bind(("127.0.0.1", 0))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
    _starts_a_process()
