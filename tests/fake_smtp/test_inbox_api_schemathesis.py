"""The OpenAPI document and the behaviour agree (issue 13, item 14): schemathesis, unchanged,
runs every phase (examples, coverage, fuzzing, stateful) over every operation of
``/api/v1/openapi.json`` against a real inbox process, with every check, and finds nothing.

The seed is fixed so a CI failure can be replayed; ``SCHEMATHESIS_SEED`` and
``SCHEMATHESIS_EXAMPLES`` run it wider by hand, e.g. ``SCHEMATHESIS_EXAMPLES=100``.
The hooks in ``schemathesis_hooks.py`` say what they adjust and why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_smtp_helpers import REPO, InboxProcess

HERE = Path(__file__).resolve().parent
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261201")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "12")


def _schemathesis_cli() -> list[str]:
    st = Path(sys.executable).with_name("st")
    return [str(st)] if st.exists() else [sys.executable, "-m", "schemathesis.cli"]


@pytest.mark.slow
def test_schemathesis_finds_no_difference_between_document_and_behaviour(
        inbox_factory: Callable[..., InboxProcess], tmp_path: Path) -> None:
    inbox = inbox_factory("--log-level", "ERROR")  # thousands of 4xx: their log lines would fill the stderr pipe
    report = tmp_path / "schemathesis.json"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "FAKE_SMTP_URL": inbox.url,
           "FAKE_SMTP_SMTP_PORT": str(inbox.smtp_port),
           "PYTHONPATH": os.pathsep.join([str(HERE), REPO, os.environ.get("PYTHONPATH", "")])}
    cmd = [*_schemathesis_cli(), "run", f"{inbox.url}/api/v1/openapi.json", "--checks", "all",
           "--seed", SEED, "--max-examples", EXAMPLES, "--workers", "1", "--request-timeout", "30",
           "--generation-database", "none", "--no-color", "--report", "json", "--report-json-path", str(report)]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    tail = "\n".join(run.stdout.splitlines()[-60:])
    assert run.returncode == 0, f"schemathesis failed (exit {run.returncode}):\n{tail}\n{run.stderr[-3000:]}"
    result = json.loads(report.read_text())
    cases, ops = result["test_cases"], result["operations"]
    print(f"\nschemathesis: {ops['tested']}/{ops['total']} operations, {cases['generated']} cases, "
          f"{cases['with_failures']} with failures, {len(result['errors'])} errors, seed {SEED}")
    # every operation but the document's own URL, which schemathesis leaves out
    assert ops["tested"] == ops["total"] == len(_operations(inbox)) - 1 and ops["errored"] == 0
    assert cases["with_failures"] == 0 and result["failures"] == [] and result["errors"] == []
    assert result["warnings"]["missing_test_data"] == []  # the {ID} operations reached real mail
    assert inbox.proc.poll() is None


def _operations(inbox: InboxProcess) -> list[tuple[str, str]]:
    doc = inbox.get_json("/api/v1/openapi.json")
    return [(method, path) for path, item in doc["paths"].items() for method in item]
