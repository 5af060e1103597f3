"""Schemathesis hooks for the inbox run (loaded through ``SCHEMATHESIS_HOOKS``).

Three adjustments, each keeping every generated case on the side (valid / invalid) it was made for:

- ``{ID}`` operations: three in four valid IDs are replaced by the ID of a real message, so the
  message, headers, raw, part and view operations are exercised on real mail and not only
  answer 404 (a message is sent over SMTP whenever the inbox is empty, e.g. after a DELETE).

- ``GET /api/v1/wait`` long-polls up to ``timeout`` seconds (default 30) when nothing matches, so
  a valid timeout is shortened to at most 0.2 s; an invalid one is left alone, to be refused.
- ``PUT /api/v1/faults``: three rules of a plan cannot be said in JSON Schema (``end`` after
  ``start``, uniform ``max`` >= ``min``, lognormal ``p95`` >= ``median``; the document states
  them in words).  A pair that breaks one is put the right way round before the call (a
  valid value stays valid, an invalid one invalid); the tests of ``mfa_harness.fake_smtp.faults`` check
  that each is refused with a clear 400.
"""

from __future__ import annotations

import os
import re
import smtplib
from email.message import EmailMessage
from typing import Any

import schemathesis

from mfa_harness.fake_smtp.faults import MAX_SECONDS
from mfa_harness.harness_http import call_json

MAX_TEST_WAIT = 0.2
VALID_ID = re.compile(r"[A-Za-z0-9_-]+")


def _call(method: str, path: str, body: Any = None) -> Any:
    return call_json(method, os.environ["FAKE_SMTP_URL"] + path, body)


def _sample_mail() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Portal <portal@example.com>", "team@agency.example", "Your code"
    msg["Date"] = "Tue, 01 Dec 2026 10:00:00 +0100"
    msg["X-Tags"] = "login, mfa"
    msg.set_content("Your verification code is: 482913\n")
    msg.add_alternative('<p>Your code is <b>482913</b><img src="cid:logo@x"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"GIF89a", maintype="image", subtype="gif", cid="<logo@x>")
    msg.add_attachment(b"report", maintype="application", subtype="pdf", filename="r.pdf")
    return msg


def real_message_id() -> str:
    """The newest message's ID, after sending one when the inbox is empty (chaos and faults that a
    PUT left behind are cleared first, or they could refuse the mail)."""
    found = _call("GET", "/api/v1/messages?limit=1")["messages"]
    if found:
        return str(found[0]["ID"])
    _call("PUT", "/api/v1/chaos", {})
    _call("PUT", "/api/v1/faults", {})
    with smtplib.SMTP("127.0.0.1", int(os.environ["FAKE_SMTP_SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(_sample_mail())
    return str(_call("GET", "/api/v1/messages?limit=1")["messages"][0]["ID"])


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path == "/api/v1/faults" and case.method.upper() == "PUT":
        _fix_plan(case)
    params = case.path_parameters or {}
    msg_id = params.get("ID")
    if isinstance(msg_id, str) and VALID_ID.fullmatch(msg_id) and sum(map(ord, msg_id)) % 4:
        params["ID"] = real_message_id()
    if case.operation.path != "/api/v1/wait":
        return
    query = case.query if case.query is not None else {}
    raw = query.get("timeout", 30)
    seconds = _number(raw)
    if "timeout" not in query or (isinstance(raw, int | float | str) and seconds is not None and 0 <= seconds <= 300):
        query["timeout"] = min(seconds if seconds is not None else 30.0, MAX_TEST_WAIT)
        case.query = query


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _keep_cross_field_rules(rule: Any) -> None:
    """Swap a pair that is the wrong way round, and part an equal start/end by one second."""
    if not isinstance(rule, dict):
        return
    for low, high in (("start", "end"), ("min", "max"), ("median", "p95")):
        a, b = rule.get(low), rule.get(high)
        if not (_num(a) and _num(b)):
            continue
        if b < a:
            rule[low], rule[high] = b, a
        elif a == b and low == "start":
            if a + 1 <= MAX_SECONDS:
                rule[high] = a + 1
            else:
                rule[low] = b - 1


def _fix_plan(case: Any) -> None:
    rules = case.body.get("rules") if isinstance(case.body, dict) else None
    for rule in rules if isinstance(rules, list) else ():
        _keep_cross_field_rules(rule)
