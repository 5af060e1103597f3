"""No login loops: a client is never kept going round between sign-in and the code page.

Definition (docs/interfaces.md "Login loops"). Within one login flow, a loop is either
- a redirect chain that visits the same URL twice or runs past the hop limit (`kind: "chain"`), or
- repetition without progress: the client was sent back to the sign-in page after a verify (the
  verify's answer, or the account page right after it) twice, with no signed-in page reached in
  between (`kind: "repeat"`). One such bounce, with or without a message, is not a loop: the
  user signs in again, and a second bounce in a row is.
The cookies-blocked page is the loop breaker, never a loop. Purely client-side, so it decides
against a foreign portal too; its cases are the finished login flows. Loop lines are `info` by
the contract (an observation, not an operation); `flow` lines that are `info` do not count.
"""

from __future__ import annotations

from typing import Any

from .context import CheckContext
from .index import ClientOp, Index, Line
from .result import Result


def _bounce(op: ClientOp) -> bool:
    """Sent back to sign-in by a verify, or by the account page right after one."""
    if op.op == "verify" and op.type == "fail":
        return op.res("reason") == "bounced" or (op.res("reason") == "loop" and op.res("page") == "login")
    return op.op == "access_account" and op.type == "fail" and op.res("page") == "login"


def _repeated_bounces(ops: list[ClientOp]) -> list[ClientOp]:
    """The second bounce of a run of bounces with no signed-in page in between, if any."""
    run: list[ClientOp] = []
    verified = False
    for op in ops:
        if op.op == "verify" and op.type == "ok":
            verified = True          # its landing page is progress only if the next visit keeps it
        elif op.type == "ok" and (op.op == "access_account" or op.res("page") in ("account", "my_account")):
            run, verified = [], False
        elif _bounce(op) and (op.op == "verify" or verified):
            run.append(op)
            if len(run) == 2:
                return run
    return []


def check_no_login_loops(ix: Index, ctx: CheckContext) -> dict[str, Any]:
    """A loop line that ended in "loop", a flow whose outcome was "loop", or two bounces in a row."""
    r = Result(decidable=True)
    r.case(sum(1 for line in ix.flow_lines if line.get("type") in ("ok", "fail")))
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
    for flow, ops in ix.flows.items():
        run = _repeated_bounces(ops)
        if run and flow not in flagged:
            flagged.add(flow)
            r.violation(*(line for op in run for line in (op.invoke, op.done)), flow_line.get(flow))
    for line in ix.flow_lines:
        if line.get("type") not in ("ok", "fail") or (line.get("value") or {}).get("outcome") != "loop":
            continue
        if line.get("flow") not in flagged:
            flagged.add(line.get("flow"))
            r.violation(line)
    r.note("bounces", sum(1 for op in ix.ops if _bounce(op)))
    return r.as_dict()
