"""Live progress without a portal log (--target): logins counted from the clients' history file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mfa_harness.scenarios.progress import ClientFlows, Progress


def _flow(type_: str, outcome: str | None) -> str:
    value: dict[str, Any] = {"outcome": outcome} if outcome else {}
    return json.dumps({"src": "client", "type": type_, "op": "flow", "value": value, "wall": time.time()})


def test_client_flows_counts_as_the_metrics_do_and_waits_for_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "client-history.jsonl"
    flows = ClientFlows(path)
    flows.poll()                                        # not written yet: nothing, no error
    assert (flows.ok, flows.failed) == (0, 0)
    invoke = json.dumps({"src": "client", "type": "invoke", "op": "flow", "value": {}})
    half = _flow("fail", "code_expired")
    path.write_text("\n".join([invoke, _flow("ok", "ok"), _flow("info", "unknown"),
                               _flow("ok", "ok")]) + "\n" + half[:20], encoding="utf-8")
    flows.poll()
    assert (flows.ok, flows.failed) == (2, 0)           # the torn line waits for its end
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(half[20:] + "\n" + _flow("fail", "unknown") + "\n")
    flows.poll()
    assert (flows.ok, flows.failed) == (2, 1)           # `unknown` is neither ok nor failed
    flows.poll()
    assert (flows.ok, flows.failed) == (2, 1)           # read from where it stopped


def test_progress_line_in_target_mode_shows_client_logins(tmp_path: Path) -> None:
    path = tmp_path / "client-history.jsonl"
    path.write_text(_flow("ok", "ok") + "\n" + _flow("fail", "wrong_password") + "\n", encoding="utf-8")
    sc = SimpleNamespace(name="smoke", duration=600.0, time_scale=60.0, users=8, faults=[], bugs=[])
    progress = Progress(sc, epoch=time.time(), portal_url=None, nemesis=SimpleNamespace(errors=[]),  # type: ignore[arg-type]
                        quiet=True, client_history=path)
    progress._poll()
    line = progress.line()
    assert "logins ok 1  failed 1" in line
    assert "violations so far n/a" in line
