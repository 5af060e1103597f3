"""Nemesis steps: each action's class decides which keys a `[[nemesis]]` table takes, and the
scenario file's mistakes are named with file, line and a likely correction."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mfa_harness.scenarios.nemesis import ACTIONS, ChangeNotification, ClockJump, KillPortal, NemesisAction
from mfa_harness.scenarios.schemas import path_of
from mfa_harness.scenarios.spec import ScenarioError, load

GOOD = '''description = "a test scenario"
duration = 600

[personas]
careful = 1

[[nemesis]]
at = 10
action = "clock-jump"
by = 360
'''                                   # the second [[nemesis]] block of each case starts on line 12


def load_with(tmp_path: Path, step: str) -> list[NemesisAction]:
    path = tmp_path / "s.toml"
    path.write_text(GOOD + "\n[[nemesis]]\n" + step, encoding="utf-8")
    return load(path).nemesis


@pytest.mark.parametrize(("step", "line", "words"), [
    # the example: keys of other actions on a kill-portal used to load silently
    ('at = 1\naction = "kill-portal"\nby = 99\npartner = "nobody"\n', 15,
     "nemesis[1].by: kill-portal takes no key 'by' (its keys: at, down_for)"),
    ('at = 1\naction = "kill-portal"\ndown_fro = 30\n', 15, "takes no key 'down_fro' (its keys: at, down_for); "
                                                          "did you mean 'down_for'?"),
    ('at = 1\naction = "kill-portal"\ndown_for = "30s"\n', 15, "nemesis[1].down_for: expected int or float, got str"),
    ('at = 1\naction = "kill-portal"\ndown_for = -5\n', 15, "down_for: must be >= 0"),
    ('at = 1\naction = "clock-jump"\n', 12, "nemesis[1]: clock-jump needs by"),
    ('at = 1\naction = "clock-jump"\nby = inf\n', 15, "by: must be a finite number"),
    ('at = nan\naction = "clock-jump"\nby = 5\n', 13, "nemesis[1].at: must be a finite number"),
    ('at = 601\naction = "clock-jump"\nby = 5\n', 13, "at <= duration"),
    ('action = "clock-jump"\nby = 5\n', 12, "nemesis[1]: clock-jump needs at"),
    ('at = 1\naction = "clock-jmp"\n', 14, "nemesis[1].action: unknown action 'clock-jmp' (known: clock-jump, "),
    ('at = 1\naction = "clock-jmp"\n', 14, "; did you mean 'clock-jump'?"),
    ('at = 1\naction = 3\n', 14, "nemesis[1].action: needs action = one of clock-jump"),
    ('at = 1\n', 12, "nemesis[1]: needs action = one of"),
    ('at = 1\naction = "change-notification"\npartner = "resseller"\n', 15,
     "partner: must be one of agency, reseller, affiliate, got 'resseller'; did you mean 'reseller'?"),
    ('at = 1\naction = "change-notification"\naddress = "two@a.example, three@b.example"\n', 15,
     "nemesis[1].address: not a single email address"),
])
def test_each_action_refuses_what_it_does_not_take(tmp_path: Path, step: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_with(tmp_path, step)
    msg = str(err.value)
    assert f"s.toml:{line}: " in msg and words in msg, msg


def test_a_table_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('description = "x"\nnemesis = [1]\n\n[personas]\ncareful = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"nemesis\[0\]: expected a table with `at` and `action`, got int"):
        load(path)


def test_steps_load_as_their_actions_sorted_by_time(tmp_path: Path) -> None:
    steps = load_with(tmp_path, 'at = 5\naction = "change-notification"\npartner = "reseller"\n'
                                '\n[[nemesis]]\nat = 7\naction = "kill-portal"\n')
    assert steps == [ChangeNotification(at=5.0, partner="reseller"), KillPortal(at=7.0, down_for=0.0),
                     ClockJump(at=10.0, by=360.0)]
    # what run.json and the report's plan table show: the file's own keys, nothing of other actions
    assert [vars(s) for s in steps] == [
        {"at": 5.0, "partner": "reseller", "address": "", "action": "change-notification"},
        {"at": 7.0, "down_for": 0.0, "action": "kill-portal"},
        {"at": 10.0, "by": 360.0, "action": "clock-jump"}]
    assert all(isinstance(s.at, float) for s in steps) and isinstance(steps[2].by, float)


def test_the_schema_has_one_variant_per_action_with_its_keys() -> None:
    schema = json.loads(path_of("scenario").read_text(encoding="utf-8"))
    check = jsonschema.Draft202012Validator(schema)
    base = {"description": "x", "personas": {"careful": 1}}
    variants = schema["properties"]["nemesis"]["items"]["oneOf"]
    assert [v["properties"]["action"]["const"] for v in variants] == list(ACTIONS)
    assert not list(check.iter_errors({**base, "nemesis": [{"at": 1, "action": "kill-portal", "down_for": 3}]}))
    for wrong in ({"at": 1, "action": "kill-portal", "by": 99}, {"at": 1, "action": "clock-jump"},
                  {"at": 1, "action": "change-notification", "partner": "nobody"}):
        assert list(check.iter_errors({**base, "nemesis": [wrong]})), wrong


def test_every_action_says_what_it_does_and_what_its_keys_mean() -> None:
    for name, cls in ACTIONS.items():
        assert cls.name == name and (cls.__doc__ or "").strip(), name
        assert cls.run is not NemesisAction.run, name
        for f in cls.settings():
            assert f.metadata["doc"], (name, f.name)
