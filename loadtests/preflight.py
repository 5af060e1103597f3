"""Before any load: is the inbox there, is the portal there, do their clocks run at our time scale?

A run against an unreachable inbox used to start every user, fail every code wait and still
exit 0; a run at `--time-scale 30` against a stack started at x1 reported every scenario-time
metric 30 times too large. Both are refused here with one line, before the first user starts.
The portal's `/_harness/clock` and the inbox's `/api/v1/info` report their scale; a portal or
inbox that does not (a foreign one) is only checked for an answer.

`await_go` is the other half of "scenario time 0 is when load begins": with `--await-go` the
process says it is ready on stdout and the runner answers with the epoch, so Locust's own
start-up cost (imports, workers connecting) never shifts the load on the scenario time axis.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from mfa_harness.harness_http import HttpError, request

PROBE_TIMEOUT_S = 10.0          # wall seconds for one preflight request
WORKERS_WAIT_S = 120.0          # wall seconds a master waits for its workers before giving up
SCALE_TOLERANCE = 1e-6          # relative difference of two time scales still taken as equal


class PreflightError(RuntimeError):
    """The target cannot carry a run; the message is the one line the user sees."""


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    """(status, body) of a GET; HTTP error statuses are answers too. PreflightError if no answer."""
    try:
        res = request("GET", url, timeout=timeout)
    except HttpError as exc:                  # its message: "GET <url>: no answer (<why>)"
        raise PreflightError(str(exc)) from None
    return res.status, res.body


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _same_scale(a: float, b: float) -> bool:
    return abs(a - b) <= SCALE_TOLERANCE * max(abs(a), abs(b), 1.0)


def check_inbox(inbox_url: str, time_scale: float, timeout: float = PROBE_TIMEOUT_S) -> None:
    """The inbox answers its API; when it reports a time scale, it is ours."""
    url = inbox_url.rstrip("/") + "/api/v1/info"
    status, body = _get(url, timeout)
    if status != 200:
        raise PreflightError(f"--inbox-url {inbox_url}: GET /api/v1/info answered {status}; is it a "
                             "Mailpit-compatible inbox API?")
    scale = (_json(body) or {}).get("TimeScale")
    if isinstance(scale, int | float) and not isinstance(scale, bool) and not _same_scale(float(scale), time_scale):
        raise PreflightError(f"the inbox at {inbox_url} runs at time scale {scale:g} and Locust at {time_scale:g}: "
                             f"give --time-scale {scale:g} (or start the inbox with --time-scale {time_scale:g})")


def check_portal(host: str, time_scale: float, timeout: float = PROBE_TIMEOUT_S) -> None:
    """The portal answers; a harness-mode portal's `/_harness/clock` scale is ours."""
    base = host.rstrip("/")
    status, body = _get(base + "/_harness/clock", timeout)
    scale = (_json(body) or {}).get("scale") if status == 200 else None
    if isinstance(scale, int | float) and not isinstance(scale, bool):
        if not _same_scale(float(scale), time_scale):
            raise PreflightError(f"the portal at {host} runs at time scale {scale:g} and Locust at {time_scale:g}: "
                                 f"give --time-scale {scale:g} (or start the portal with --time-scale {time_scale:g})")
        return
    if status >= 500:
        raise PreflightError(f"--host {host}: the portal answered {status}")


def wait_for_workers(runner: Any, expected: int, timeout: float = WORKERS_WAIT_S) -> None:
    """Master: until `expected` workers are connected (so the go line means every worker is ready)."""
    import gevent

    deadline = time.monotonic() + timeout
    while len(runner.clients.ready) < expected:
        if time.monotonic() > deadline:
            raise PreflightError(f"only {len(runner.clients.ready)} of {expected} Locust workers connected "
                                 f"within {timeout:.0f} s")
        gevent.sleep(0.05)      # the master's own greenlets register the workers meanwhile


def await_go(stdin: Any = None, stdout: Any = None) -> float:
    """Say ready on stdout, read `{"epoch": T}` from stdin and sleep (gevent) until T; returns T."""
    import gevent

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stdout.write(json.dumps({"ready": "locust"}) + "\n")
    stdout.flush()
    line = gevent.get_hub().threadpool.apply(stdin.readline)    # the hub keeps serving workers meanwhile
    try:
        epoch = float((_json(line.encode() if isinstance(line, str) else line) or {})["epoch"])
    except (KeyError, TypeError, ValueError):
        raise PreflightError(f"--await-go: expected a line {{\"epoch\": T}} on stdin, got {line.strip()[:80]!r}") from None
    gevent.sleep(max(0.0, epoch - time.time()))
    return epoch
