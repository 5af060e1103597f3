"""No login loops: every loop a client detected ended at the loop breaker or in a session.

Purely client-side, so it is decidable against a foreign portal too. Loop lines are `info` by
the contract (an observation, not an operation); `flow` lines that are `info` do not count.
"""

from __future__ import annotations

from typing import Any

from .context import CheckContext
from .index import Index, Line
from .result import Result


def check_no_login_loops(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """A loop line that ended in "loop", or a login flow whose outcome was "loop", is a violation."""
    r = Result(decidable=bool(ix.ops or ix.flow_lines or ix.loops))
    flow_line: dict[Any, Line] = {}
    for line in ix.flow_lines:
        if line.get("type") in ("ok", "fail") and line.get("flow") is not None:
            flow_line[line["flow"]] = line
    flagged: set[Any] = set()
    for loop in ix.loops:
        value = loop.get("value") or {}
        if value.get("ended") == "loop":
            flow = loop.get("flow")
            if flow is not None and flow in flagged:
                continue
            flagged.add(flow)
            r.violation(loop, flow_line.get(flow))
    for line in ix.flow_lines:
        if line.get("type") not in ("ok", "fail") or (line.get("value") or {}).get("outcome") != "loop":
            continue
        if line.get("flow") not in flagged:
            flagged.add(line.get("flow"))
            r.violation(line)
    return r.as_dict()
