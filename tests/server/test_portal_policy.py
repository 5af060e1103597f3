"""Policy defaults and TOML overrides (server/policy.py)."""

from __future__ import annotations

import re
import resource
import sqlite3
import subprocess
from contextlib import closing

import pytest
from argon2.low_level import lib as argon2_lib
from portal_testkit import PYTHON, REPO, Browser

from mfa_harness.server.passwords import Passwords, argon2_parameters
from mfa_harness.server.policy import ARGON2_BOUNDS, Policy, PolicyError, load_policy


def test_defaults_are_the_products():
    p = Policy()
    assert (p.code_lifetime, p.pending_lifetime, p.max_attempts) == (300.0, 600.0, 5)
    assert (p.resend_cooldown, p.max_codes_per_challenge, p.max_codes_per_account_hour, p.resend) == (30.0, 5, 10, "invalidate")


def test_toml_overrides(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('code_lifetime = 120\nresend = "keep"\n')
    p = load_policy(f)
    assert p.code_lifetime == 120.0 and p.resend == "keep" and p.max_attempts == 5
    g = tmp_path / "q.toml"
    g.write_text("[policy]\nmax_attempts = 3\n")
    assert load_policy(g).max_attempts == 3


@pytest.mark.parametrize("text, words", [
    ("colour = 1\n", "unknown policy key 'colour'"),
    ('max_attempts = "five"\n', "must be an integer"),
    ("max_attempts = 2.5\n", "must be an integer"),
    ("code_lifetime = true\n", "must be a number"),
    ('resend = "sometimes"\n', "invalidate"),
    ("code_lifetime = -1\n", "must be > 0"),
    ("code_lifetime = \n", "not valid TOML"),
    ("password_time_cost = 0\n", "'password_time_cost' must be between 1 and 4294967295, not 0"),
    ("password_memory_cost = 4\n", "'password_memory_cost' must be between 8 and 4294967295, not 4"),
    ("password_memory_cost = 4294967296\n", "'password_memory_cost' must be between 8 and"),
    ("password_parallelism = 16777216\n", "'password_parallelism' must be between 1 and 16777215"),
    ("password_time_cost = 1.5\n", "'password_time_cost' must be an integer"),
    ('password_memory_cost = "64MiB"\n', "'password_memory_cost' must be an integer"),
    ("password_parallelism = true\n", "'password_parallelism' must be an integer"),
    ("password_salt_len = 8\n", "unknown policy key 'password_salt_len'"),
])
def test_bad_policy_files_are_named(tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=words):
        load_policy(f)


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.toml")


def test_argon2_bounds_are_the_librarys():
    lib = argon2_lib
    assert ARGON2_BOUNDS == {"password_time_cost": (lib.ARGON2_MIN_TIME, lib.ARGON2_MAX_TIME),
                             "password_memory_cost": (lib.ARGON2_MIN_MEMORY, lib.ARGON2_MAX_MEMORY),
                             "password_parallelism": (lib.ARGON2_MIN_LANES, lib.ARGON2_MAX_LANES)}


def test_password_keys_override_single_parameters_of_the_profile(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[policy]\npassword_time_cost = 2\n")
    policy = load_policy(f)
    assert argon2_parameters("cheap", policy) == {"time_cost": 2, "memory_cost": 8, "parallelism": 1}
    assert argon2_parameters("default", policy) == {"time_cost": 2, "memory_cost": 65536, "parallelism": 4}
    assert argon2_parameters("cheap") == {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    passwords = Passwords("cheap", workers=1, policy=policy)
    try:
        hashed = passwords.hash_sync("correct horse battery")
        assert hashed.startswith("$argon2id$v=19$m=8,t=2,p=1$")
        assert passwords.verify_sync(hashed, "correct horse battery")
        older = Passwords("cheap", workers=1)  # a hash made under another cost still verifies
        assert passwords.verify_sync(older.hash_sync("made before"), "made before")
        older.pool.shutdown()
    finally:
        passwords.pool.shutdown()


def test_memory_per_lane_is_checked_against_the_profile():
    with pytest.raises(PolicyError, match=r"'password_memory_cost' must be >= 32 with parallelism 4 .*not 16$"):
        argon2_parameters("default", Policy(password_memory_cost=16))
    with pytest.raises(PolicyError, match=r"must be >= 16 with parallelism 2 .*not 8 \(the cheap profile's\)"):
        argon2_parameters("cheap", Policy(password_parallelism=2))
    assert argon2_parameters("cheap", Policy(password_parallelism=2, password_memory_cost=16))["parallelism"] == 2


def test_policy_password_keys_change_the_stored_hashes(sink, portal_factory, tmp_path):
    f = tmp_path / "cost.toml"
    f.write_text("password_time_cost = 2\npassword_memory_cost = 16\npassword_parallelism = 2\n")
    portal = portal_factory(sink.port, "--policy", str(f))  # on top of --password-profile cheap
    with closing(sqlite3.connect(portal.db)) as conn:
        hashes = [row[0] for row in conn.execute("SELECT password_hash FROM partners")]
    assert hashes and all(re.match(r"\$argon2id\$v=19\$m=16,t=2,p=2\$", h) for h in hashes), hashes[:2]
    started = next(e for e in portal.events() if e["event"] == "portal_started")
    assert started["passwords"] == {"profile": "cheap", "time_cost": 2, "memory_cost": 16, "parallelism": 2}
    assert started["policy"]["password_time_cost"] == 2
    assert "password profile: cheap (argon2id t=2 m=16 KiB p=2)" in portal.stderr()
    acct = portal.accounts("agency")[0]
    assert Browser(portal.url).login(acct["username"], acct["password"]).status_code == 303


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # so a huge argon2 memory cannot be had


@pytest.mark.parametrize("text, extra, words", [
    ("password_time_cost = 0\n", [], "must be between 1 and 4294967295"),
    ("password_parallelism = 2.0\n", [], "must be an integer"),
    ("password_memory_cost = 16\n", [], "must be >= 32 with parallelism 4"),
    ("password_parallelism = 3\n", ["--password-profile", "cheap"], "(the cheap profile's)"),
    ("password_memory_cost = 4294967295\n", ["--password-profile", "cheap"], "Memory allocation error"),
])
def test_bad_password_cost_exits_2_with_one_line(tmp_path, text, extra, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    db = tmp_path / "portal.db"
    r = subprocess.run([PYTHON, "-m", "mfa_harness.server", "--port", "0", "--partners", "1", "--db", str(db), "--policy", str(f),
                        *extra], cwd=REPO, capture_output=True, text=True, timeout=60, preexec_fn=_limit_address_space)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not db.exists()
