"""Scenario files: the catalogue loads, and every kind of mistake is reported with file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_harness.scenarios import bugmap
from mfa_harness.scenarios.spec import INVARIANT_NAMES, ScenarioError, catalog, load

GOOD = '''
name = "t"
description = "a test scenario"
duration = 60

[personas]
careful = 1
'''


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_catalogue_loads_and_covers_the_products_troubles() -> None:
    names = {s.name for s in catalog()}
    for needed in ("smoke", "partners-login", "shared-inbox", "delayed-email", "spam-folder", "expiry",
                   "resend-storm", "login-loop", "smtp-outage", "brute-force", "forgot-password",
                   "notification-change", "portal-restart"):
        assert needed in names
    for sc in catalog():
        assert sc.description and sc.personas and sc.expected == {"violations": 0}


def test_every_planted_bug_maps_to_known_invariants_and_scenarios() -> None:
    names = {s.name for s in catalog()}
    for name, bug in bugmap.PLANTED_BUGS.items():
        assert bug.scenario in names, name
        assert set(bug.invariants) <= set(INVARIANT_NAMES), name


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    sc = load(write(tmp_path, GOOD))
    assert sc.duration == 60 and sc.personas == {"careful": 1.0} and sc.users == 10


@pytest.mark.parametrize(("snippet", "line", "words"), [
    ("duration = -5\n", 4, "must be > 0"),
    ("[load]\nusers = \"many\"\n", 10, "expected int"),
    ("[load]\nuserz = 3\n", 10, "unknown key"),
    ("[policy]\nresend = \"sometimes\"\n", 10, "invalidate"),
    ("[policy]\ncode_tll = 3\n", 10, "unknown policy key"),
    ("[policy]\nresend = \"keep\"\ncode_lifetime = \"5m\"\n", 11, "must be a number"),
    ("[policy]\ncode_ttl = 60\ncode_lifetime = 60\n", 11, "given twice"),
    ("[policy]\nmax_attempts = 0\n", 10, "must be > 0"),
    ("[population]\npartners = 9\nprograms = { bank = 1 }\n", 11, "unknown program 'bank'"),
    ("[population]\nprograms = { agency = 0 }\n", 10, "at least one program"),
    ("[population]\nprograms = { agency = \"half\" }\n", 10, "weights must be numbers"),
    ("[population]\nteam_size = [4, 2]\n", 10, "1 <= MIN <= MAX"),
    ("[population]\nteam_size = [2, 3, 4]\n", 10, "[MIN, MAX]"),
    ("[[faults]]\nkind = \"spam\"\nprobability = 2\n", 11, "'probability' must be <= 1"),
    ("[[faults]]\nkind = \"spam\"\n\n[[faults]]\nkind = \"delay\"\nmedain = 3\n", 14, "unknown field(s) medain"),
    ("[[faults]]\nkind = \"flood\"\n", 10, "'kind' must be one of"),
    ("[expect]\ninvalid = [\"singel_use\"]\n", 10, "unknown invariant"),
    ("[[nemesis]]\nat = 9999\naction = \"clock-jump\"\n", 10, "at <= duration"),
    ("[[nemesis]]\nat = 1\naction = \"unplug\"\n", 11, "unknown action"),
])
def test_mistakes_name_file_line_and_problem(tmp_path: Path, snippet: str, line: int, words: str) -> None:
    text = GOOD.replace("duration = 60\n", "duration = 60\n" if "duration" not in snippet else snippet) \
        if snippet.startswith("duration") else GOOD + "\n" + snippet
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:"), msg
    assert words in msg, msg
    assert f":{line}:" in msg, (msg, text)


def test_policy_takes_the_portals_keys_and_the_portal_accepts_the_file(tmp_path: Path) -> None:
    """The `[policy]` table becomes the portal's `--policy` file: read back with the portal's loader."""
    from mfa_harness.scenarios.runner import write_toml
    from mfa_harness.server.policy import load_policy

    sc = load(write(tmp_path, GOOD + "\n[policy]\ncode_ttl = 120\npending_lifetime = 240\n"
                                     "max_attempts = 3\nlogin_free_failures = 2\nresend = \"keep\"\n"))
    assert sc.policy == {"code_lifetime": 120, "pending_lifetime": 240, "max_attempts": 3,
                         "login_free_failures": 2, "resend": "keep"}
    policy = load_policy(write_toml(tmp_path / "policy.toml", sc.policy))
    assert (policy.code_lifetime, policy.pending_lifetime, policy.max_attempts, policy.resend) == \
        (120.0, 240.0, 3, "keep")


def test_population_mix_becomes_the_portals_seeding_options(tmp_path: Path) -> None:
    from mfa_harness.server.__main__ import server_parser
    from mfa_harness.server.population import parse_mix, parse_team_size

    sc = load(write(tmp_path, GOOD + "\n[population]\npartners = 12\nprograms = { agency = 2, reseller = 1 }\n"
                                     "team_size = [3, 4]\n"))
    assert sc.partners == 12
    args = server_parser().parse_args(sc.population)
    mix = parse_team_size(args.team_size, parse_mix(args.mix))
    assert (mix.agency, mix.reseller, mix.affiliate, mix.team_min, mix.team_max) == (2, 1, 0, 3, 4)
    assert load(write(tmp_path, GOOD)).population == []     # the portal's default mix


def test_a_misspelled_persona_names_file_and_line(tmp_path: Path) -> None:
    """It used to reach Locust, which refused it before any load, and the run 'passed' with 0 logins."""
    path = write(tmp_path, GOOD.replace("careful = 1", "carefull = 3"))
    with pytest.raises(ScenarioError, match=r":7: personas.carefull: unknown persona \(known: affiliate, careful"):
        load(path)


def test_bugs_in_the_file_set_the_same_expectations_as_bug_options(tmp_path: Path) -> None:
    from mfa_harness.scenarios.runner import RunOptions, apply_overrides

    in_file = apply_overrides(load(write(tmp_path, 'bugs = ["per-process-secret"]\n' + GOOD)), RunOptions())
    on_cli = apply_overrides(load(write(tmp_path, GOOD)), RunOptions(bugs=["per-process-secret"]))
    assert in_file.bugs == on_cli.bugs == ["per-process-secret"]
    assert in_file.expect_invalid == on_cli.expect_invalid == ["no_login_loops"]
    assert in_file.processes == on_cli.processes == 2


def test_invalid_toml_and_missing_personas(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="invalid TOML"):
        load(write(tmp_path, "name = \n"))
    with pytest.raises(ScenarioError, match="persona"):
        load(write(tmp_path, 'description = "x"\n'))
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load("no-such-scenario")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_list_and_usage_errors(tmp_path: Path) -> None:
    out = run_cli("list")
    assert out.returncode == 0 and "smoke" in out.stdout and "portal-restart" in out.stdout
    for args in (["run", "no-such"], ["run", "smoke", "--time-scale", "0"], ["run", "smoke", "--bug", "nope"],
                 ["run", "smoke", "--users", "x"], ["check", str(tmp_path)], ["frobnicate"],
                 ["run", "smoke", "--inbox-url", "http://127.0.0.1:9"]):
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert res.stderr.startswith(("mfa-harness: ", "usage: ")), res.stderr


@pytest.mark.parametrize(("top", "line", "words"), [
    ('thresholds = ["flow.p95 < 8"]\n', 5, "flow.p95 is a duration, give a unit"),
    ('thresholds = ["latency.p95 < 1s"]\n', 5, "unknown metric 'latency.p95'"),
    ('thresholds = ["flw.p95 < 1s"]\n', 5, "did you mean 'flow.p95'"),
    ('thresholds = ["flow.p95 =< 8s"]\n', 5, "unknown operator '=<'"),
    ('thresholds = [\n  "loops == 0",\n  "flow.p95 => 8s",\n]\n', 7, "unknown operator '=>'"),
    ("time_scale = 1e308\n", 5, "must be <= 10000"),
    ("duration = 1e12\n", 5, "must be <= 604800"),
])
def test_top_level_mistakes_name_file_and_line(tmp_path: Path, top: str, line: int, words: str) -> None:
    """Thresholds used to be read only by Locust, after the whole stack had started."""
    path = write(tmp_path, GOOD.replace("duration = 60\n", "duration = 60\n" + top)
                 if not top.startswith("duration") else GOOD.replace("duration = 60\n", "\n" + top))
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}:") and words in msg, (msg, line)


@pytest.mark.parametrize(("snippet", "line", "words"), [
    ("[[faults]]\nkind = \"spam\"\nstart = -5\n", 11, "faults[0].start: -5 is outside the scenario"),
    ("[[faults]]\nkind = \"spam\"\nstart = 10\nend = 90\n", 12, "faults[0].end: 90 is outside the scenario"),
    ("[persona]\ncareful = 1\n", 9, "unknown table 'persona' (known: "),
    ("[persona]\ncareful = 1\n", 9, "did you mean 'personas'?"),
    ("[[faultz]]\nkind = \"spam\"\n", 9, "unknown table 'faultz'"),
    ("[load]\nuserz = 3\n", 10, "did you mean 'users'?"),
    ("[load]\nusers = 100000\n", 10, "must be <= 10000"),
])
def test_windows_tables_and_near_misses(tmp_path: Path, snippet: str, line: int, words: str) -> None:
    path = write(tmp_path, GOOD + "\n" + snippet)
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}:") and words in msg, (msg, line)


def test_a_misspelled_persona_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="did you mean 'careful'"):
        load(write(tmp_path, GOOD.replace("careful = 1", "carefull = 3")))


def test_old_metric_names_load_with_a_deprecation_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sc = load(write(tmp_path, GOOD.replace("duration = 60\n", 'duration = 60\nthresholds = ["login.p95 < 8s"]\n')))
    assert sc.thresholds == ["login.p95 < 8s"]
    err = capsys.readouterr().err
    assert ":5: metric 'login.p95' is deprecated" in err and "'flow.p95'" in err


def test_a_binary_scenario_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    proc = run_cli("run", str(path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "not a UTF-8 text file" in proc.stderr and "Traceback" not in proc.stderr


def test_the_readme_threshold_typo_example_is_what_the_command_says(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = next(line for line in readme.splitlines() if line.startswith("mfa-harness: typo.toml:"))
    (tmp_path / "typo.toml").write_text('name = "typo"\ndescription = "a typo in a threshold"\nseed = 1\n'
                                        'duration = 60\nthresholds = ["flw.p95 < 8s"]\n[personas]\ncareful = 1\n',
                                        encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mfa_harness.scenarios.cli", "run", "typo.toml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert proc.returncode == 2
    assert proc.stderr.startswith(shown.removesuffix("...")), (proc.stderr, shown)


def test_a_shorter_duration_warns_about_windows_after_the_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from mfa_harness.scenarios.runner import RunOptions, apply_overrides

    path = write(tmp_path, GOOD + "\n[[faults]]\nkind = \"spam\"\nstart = 30\nend = 50\n")
    apply_overrides(load(path), RunOptions(duration=20.0))
    err = capsys.readouterr().err
    assert f"{path}:11: faults[0].start = 30 is after the run's end (--duration 20" in err, err


@pytest.mark.parametrize(("snippet", "line", "words"), [
    # a field of another distribution: the fault-rule error names it (the message quotes no field)
    ("[[faults]]\nkind = \"delay\"\nseconds = 5\nmin = 1\n", 12, "min not used with distribution fixed"),
    # an unknown field with a hyphen: the whole name, not the part before the hyphen
    ("[[faults]]\nkind = \"drop\"\nprobability = 0.5\nretry-after = 3\n", 12, "unknown field(s) retry-after"),
])
def test_a_fault_rule_mistake_points_at_the_field_the_inbox_names(tmp_path: Path, snippet: str, line: int,
                                                                   words: str) -> None:
    path = write(tmp_path, GOOD + "\n" + snippet)
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert words in msg and msg.startswith(f"{path}:{line}: faults: rules[0]"), msg
