"""Accounts for the simulated users: from the portal's `/_harness/accounts`, or a CSV/JSON file.

Each simulated user takes its own credentials (two users on one account would share the
account's resend caps and pending login, which is a different scenario). Agency team members
share a notification address, as in the product. In a distributed run each worker takes the
accounts of each program at positions `index, index + n, …`, so no two workers hand out the
same account and each gets its share of every program.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfa_harness.harness_http import HttpError, call_json

PROGRAMS = ("agency", "reseller", "affiliate")
KEYS = ("partner_id", "program", "username", "password", "notification_email")


class AccountsError(ValueError):
    """Accounts that cannot be loaded or used; the message says where and why."""


@dataclass(frozen=True)
class Account:
    partner_id: Any
    program: str
    username: str
    password: str
    notification_email: str
    team: str | None = None


def _account(row: dict[str, Any], where: str) -> Account:
    missing = [k for k in KEYS if row.get(k) in (None, "")]
    if missing:
        raise AccountsError(f"{where}: missing {', '.join(missing)}")
    program = str(row["program"])
    if program not in PROGRAMS:
        raise AccountsError(f"{where}: program must be one of {', '.join(PROGRAMS)}, got {program!r}")
    team = row.get("team")
    return Account(partner_id=row["partner_id"], program=program, username=str(row["username"]),
                   password=str(row["password"]), notification_email=str(row["notification_email"]),
                   team=str(team) if team not in (None, "") else None)


def _locked(value: Any) -> bool:
    return value is True or (not isinstance(value, bool) and value == 1) \
        or str(value).strip().lower() in ("true", "yes", "1")


def parse_accounts(data: Any, source: str) -> list[Account]:
    """Validate a JSON-like list of account objects."""
    if isinstance(data, dict) and isinstance(data.get("accounts"), list):
        data = data["accounts"]
    if not isinstance(data, list):
        raise AccountsError(f"{source}: expected a JSON list of accounts")
    for n, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise AccountsError(f"{source}: account {n} is not an object")
    return _usable([(row, f"{source}: account {n}") for n, row in enumerate(data, 1)], source)


def _usable(rows: list[tuple[dict[str, Any], str]], source: str) -> list[Account]:
    """Every row checked; the ones support has locked left out (the portal would refuse them)."""
    out = [_account(row, where) for row, where in rows]
    out = [acc for acc, (row, _where) in zip(out, rows, strict=True) if not _locked(row.get("locked"))]
    if not out:
        raise AccountsError(f"{source}: no accounts (none unlocked)" if rows else f"{source}: no accounts")
    return out


def load_file(path: str | Path) -> list[Account]:
    """A `.csv` (header: partner_id,program,username,password,notification_email[,team]) or JSON file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountsError(f"cannot read accounts file {p}: {exc.strerror or exc}") from None
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or any(k not in reader.fieldnames for k in KEYS):
            raise AccountsError(f"{p}: CSV header must name {', '.join(KEYS)} (and optionally team)")
        return _usable([(dict(r), f"{p}: line {n + 2}") for n, r in enumerate(reader)], str(p))
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AccountsError(f"{p}: not valid JSON ({exc}); use .csv for CSV files") from None
    return parse_accounts(data, str(p))


def load_url(url: str, timeout: float = 30.0) -> list[Account]:
    """GET a JSON list (the portal's `/_harness/accounts`, or any URL a foreign portal's accounts are at)."""
    try:
        data = call_json("GET", url, timeout=timeout)
    except HttpError as exc:        # no answer, a status other than 200, or a body that is not JSON
        raise AccountsError(f"cannot load accounts from {url}: {exc.why}") from None
    return parse_accounts(data, url)


class AccountPool:
    """Hands out each account at most once, by program preference."""

    def __init__(self, accounts: list[Account], worker_index: int = 0, workers: int = 1) -> None:
        workers = max(1, workers)
        by_program: dict[str, list[Account]] = {p: [] for p in PROGRAMS}
        for acc in accounts:
            by_program[acc.program].append(acc)
        # each program split on its own: every worker gets its share of affiliates, resellers, …
        # (a split of the whole list by position could leave one worker short of a program)
        by_program = {p: v[worker_index % workers::workers] for p, v in by_program.items()}
        mine = [acc for v in by_program.values() for acc in v]
        # team members first for agency personas: a shared inbox is what makes them interesting
        by_program["agency"].sort(key=lambda a: (a.team is None, a.team or ""))
        self._by_program: dict[str, deque[Account]] = {p: deque(v) for p, v in by_program.items()}
        self.total = len(mine)

    def take(self, programs: tuple[str, ...]) -> Account | None:
        """The next unused account of the first program in `programs` that has one left."""
        for program in programs:
            pool = self._by_program.get(program)
            if pool:
                return pool.popleft()
        return None

    def left(self, program: str) -> int:
        return len(self._by_program.get(program, []))
