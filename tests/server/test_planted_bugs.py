"""The one planted-bug registry (server/bugs.py): the flags the portal's code checks, the bugs its
`--bug` accepts and the checker's expectations (scenarios/bugmap.py) are the same list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mfa_harness.checker import INVARIANTS
from mfa_harness.scenarios import bugmap
from mfa_harness.scenarios.spec import CATALOG_DIR
from mfa_harness.server.bugs import PLANTED_BUGS, describe, validate_bugs

SERVER = Path(__file__).resolve().parents[2] / "server"
FLAG = re.compile(r'"([a-z0-9-]+)"\s+(?:not\s+)?in\s+[\w.]*bugs\b')    # `"code-reuse" in self.bugs`


def flags_in_portal_code() -> dict[str, list[str]]:
    """bug name -> the places (file:line) the portal's code tests it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SERVER.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in FLAG.findall(line):
                found.setdefault(name, []).append(f"{path.relative_to(SERVER)}:{number}")
    return found


def test_every_flag_the_portal_checks_is_a_registered_bug_and_each_is_checked_once() -> None:
    flags = flags_in_portal_code()
    assert sorted(set(flags) - set(PLANTED_BUGS)) == [], "a flag in the portal with no registry entry"
    assert sorted(set(PLANTED_BUGS) - set(flags)) == [], "a registered bug the portal never plants"
    assert {name: places for name, places in flags.items() if len(places) > 1} == {}


def test_the_portal_accepts_exactly_the_bugs_the_checker_has_expectations_for() -> None:
    listed = [line.split(" \u2014 ")[0] for line in describe().splitlines()]     # `--list-bugs`
    assert listed == list(bugmap.PLANTED_BUGS)
    assert validate_bugs(listed) == frozenset(bugmap.PLANTED_BUGS)
    with pytest.raises(ValueError, match="unknown bug 'no-such-bug'"):
        validate_bugs(["no-such-bug"])


@pytest.mark.parametrize("name", list(PLANTED_BUGS))
def test_every_bug_is_decidable_by_known_invariants_in_a_catalogue_scenario(name: str) -> None:
    bug = PLANTED_BUGS[name]
    white = set(bug.invariants)
    black = white if bug.black_box is None else set(bug.black_box)
    assert bug.description and bug.processes >= 1
    assert white | black, "a bug no invariant can catch proves nothing"
    assert white | black <= set(INVARIANTS)
    assert (CATALOG_DIR / f"{bug.scenario}.toml").is_file()


def test_the_registry_is_plain_data_the_portal_reads_without_the_harness() -> None:
    tree = ast.parse((SERVER / "bugs.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses"}, imported
