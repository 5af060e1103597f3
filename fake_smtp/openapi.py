"""OpenAPI 3 description of the whole HTTP API (served at ``/api/v1/openapi.json``).

The document is a contract that schemathesis checks against the running inbox in the test
suite: every bound, enum and status here is what the handlers enforce and answer.  The fault
plan's bounds come from ``mfa_harness.fake_smtp.faults``, so they cannot drift apart.  Three rules of a
plan cannot be said in JSON Schema and are stated in the descriptions instead: ``end`` after
``start``, ``max`` >= ``min`` (uniform) and ``p95`` >= ``median`` (lognormal).
"""

from __future__ import annotations

from typing import Any

from mfa_harness.fake_smtp.faults import MAX_MESSAGE, MAX_SECONDS, MIN_MEDIAN, STAGES

MAX_LIMIT = 10_000
MAX_START = 2**53 - 1  # the largest integer every JSON client reads exactly
MAX_WAIT = 300
REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


def _int(minimum: int | None = None, maximum: int | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", **more}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def _seconds(minimum: float, *, exclusive: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number", "minimum": minimum, "maximum": MAX_SECONDS,
                           "description": "scenario seconds"}
    if exclusive:
        out["exclusiveMinimum"] = True
    return out


_STR = {"type": "string"}
_TEXT = {"text/plain": {"schema": _STR}}
_ADDRS = {"type": "array", "items": _ref("Address")}
_STRS = {"type": "array", "items": _STR}


def _p(name: str, where: str = "query", schema: dict[str, Any] | None = None, desc: str = "",
       required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema or _STR,
            "description": desc}


def _json(schema: dict[str, Any], desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _text(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": _TEXT}


_BAD = _text("invalid input: a one-line reason; nothing stored changed")
_NOT_FOUND = _text("no such message (or part)")
_FOLDER_ANY = _p("folder", schema={"type": "string", "enum": ["inbox", "spam", "any"], "default": "any"})
_PAGING = [_p("start", schema=_int(0, MAX_START, default=0)), _p("limit", schema=_int(1, MAX_LIMIT, default=50)),
           _FOLDER_ANY]
_ID = _p("ID", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}, "message ID, or 'latest'")
_QUERY = _p("query", desc="Mailpit search syntax (to:, from:, subject:, tag:, is:unread, after:, ..., words)")


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": False, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **more}


def _message_paths() -> dict[str, Any]:
    ok = _text("ok")
    return {
        "/api/v1/messages": {
            "get": _op("List messages, newest first", {"200": _json(_ref("MessagesSummary")), "400": _BAD},
                       parameters=_PAGING),
            "delete": _op("Delete messages by ID (no body or no IDs: all)", {"200": ok, "400": _BAD},
                          requestBody=_body(_ref("DeleteRequest"))),
            "put": _op("Set the read flag of the IDs, else of the Search matches, else of all",
                       {"200": ok, "400": _BAD}, requestBody=_body(_ref("ReadRequest"))),
        },
        "/api/v1/search": {
            "get": _op("Search (an empty query lists all)", {"200": _json(_ref("MessagesSummary")), "400": _BAD},
                       parameters=[_QUERY, *_PAGING]),
            "delete": _op("Delete the messages matching a query (one with no search term is refused)",
                          {"200": ok, "400": _BAD},
                          parameters=[_p("query", schema={"type": "string", "pattern": r"[^\s\x00-\x1f]"}, required=True),
                                      _FOLDER_ANY]),
        },
        "/api/v1/message/{ID}": {"get": _op("Full message (marks it read)",
                                            {"200": _json(_ref("Message")), "404": _NOT_FOUND}, parameters=[_ID])},
        "/api/v1/message/{ID}/headers": {"get": _op(
            "Headers as {Canonical-Name: [values]}, names sorted (as Mailpit)",
            {"200": _json({"type": "object", "additionalProperties": _STRS}), "404": _NOT_FOUND}, parameters=[_ID])},
        "/api/v1/message/{ID}/raw": {"get": _op("Message source as received",
                                                {"200": _text("RFC 5322 source"), "404": _NOT_FOUND},
                                                parameters=[_ID])},
        "/api/v1/message/{ID}/part/{PartID}": {"get": _op(
            "Decoded content of one MIME part, with its own Content-Type; only passive types "
            "(text/plain, images, audio, video) inline, all others as attachment",
            {"200": {"description": "the part", "content": {"*/*": {"schema": {"type": "string",
                                                                               "format": "binary"}}}},
             "404": _NOT_FOUND},
            parameters=[_ID, _p("PartID", "path", {"type": "string", "pattern": "^[0-9.]+$"})])},
        "/view/{ID}.html": {"get": _op("The HTML part alone (as Mailpit), under a CSP that runs nothing",
                                       {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}},
                                        "404": _NOT_FOUND}, parameters=[_ID])},
        "/view/{ID}.txt": {"get": _op("The text part alone (as Mailpit)", {"200": _text("text"), "404": _NOT_FOUND},
                                      parameters=[_ID])},
        "/api/v1/tags": {"get": _op("All tags in use, sorted", {"200": _json(_STRS)})},
    }


def _harness_paths() -> dict[str, Any]:
    plan = _json(_ref("FaultPlan"))
    return {
        "/api/v1/wait": {"get": _op(
            "Long-poll for the first matching message with Seq > after",
            {"200": _json(_ref("MessageSummary")), "204": {"description": "timeout, no match"}, "400": _BAD,
             "503": _text("inbox shutting down")},
            parameters=[_QUERY, _p("after", schema=_int(0, default=0)),
                        _p("timeout", schema={"type": "number", "minimum": 0, "maximum": MAX_WAIT, "default": 30},
                           desc="wall seconds"),
                        _p("folder", schema={"type": "string", "enum": ["inbox", "spam", "any"], "default": "inbox"})])},
        "/api/v1/deliveries": {"get": _op(
            "Delivery history as JSON lines (seq_event > after, oldest first)",
            {"200": {"description": "JSON lines", "content": {"application/x-ndjson": {"schema": _STR}}}, "400": _BAD},
            parameters=[_p("after", schema=_int(0, default=0)), _p("limit", schema=_int(1), desc="default: all")])},
        "/api/v1/faults": {
            "get": _op("Current fault plan", {"200": plan}),
            "put": _op("Replace the fault plan (no body: clear it; invalid: 400 and the old plan stays)",
                       {"200": plan, "400": _BAD}, requestBody=_body(_ref("FaultPlan"))),
        },
        "/api/v1/chaos": {
            "get": _op("Mailpit chaos triggers", {"200": _json(_ref("ChaosTriggers"))}),
            "put": _op("Set chaos triggers (omitted ones reset to off)",
                       {"200": _json(_ref("ChaosTriggers")), "400": _BAD},
                       requestBody=_body(_ref("ChaosTriggersRequest"))),
        },
        "/api/v1/info": {"get": _op("Server information and runtime statistics", {"200": _json(_ref("Info"))})},
        "/api/v1/webui": {"get": _op("Mailpit's web UI settings", {"200": _json(_ref("WebUIConfiguration"))})},
        "/api/v1/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})})},
        "/livez": {"get": _op("Liveness", {"200": _text("ok")})},
        "/readyz": {"get": _op("Readiness", {"200": _text("ok"), "503": _text("not ready")})},
        "/": {"get": _op("Web inbox page", {
            "200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}, "400": _BAD,
            "404": {"description": "no such message", "content": {"text/html": {"schema": _STR}}}},
            parameters=[_p("folder", schema={"type": "string", "enum": ["inbox", "spam"], "default": "inbox"}),
                        _p("to"), _p("page", schema=_int(0, 1_000_000, default=0)), _p("id")])},
    }


def _summary_props() -> dict[str, Any]:
    return {
        "ID": _STR, "MessageID": _STR, "Read": {"type": "boolean"}, "From": _ref("Address"), "To": _ADDRS,
        "Cc": _ADDRS, "Bcc": _ADDRS, "ReplyTo": _ADDRS, "Subject": _STR,
        "Created": {"type": "string", "format": "date-time"}, "Username": _STR, "Tags": _STRS,
        "Size": _int(0), "Attachments": _int(0), "Snippet": _STR,
        "Seq": _int(1, description="strictly increasing delivery number (ours)"),
        "Code": {"type": "string", "nullable": True, "description": "verification code found in the text (ours)"},
        "Folder": {"type": "string", "enum": ["inbox", "spam"]},
        "Received": {"type": "number", "description": "Unix wall time the SMTP DATA was accepted (ours)"},
        "Delivered": {"type": "number", "description": "Unix wall time the message became visible (ours)"},
    }


def _message_schemas() -> dict[str, Any]:
    summary = _summary_props()
    attachment = _obj({"PartID": _STR, "FileName": _STR, "ContentType": _STR, "ContentID": _STR, "Size": _int(0),
                       "Checksums": _obj({"MD5": _STR, "SHA1": _STR, "SHA256": _STR})},
                      ("PartID", "FileName", "ContentType", "ContentID", "Size"))
    message = {k: v for k, v in summary.items() if k not in ("Snippet", "Attachments")}
    message.update({
        "Date": {"type": "string", "format": "date-time",
                 "description": "the Date header in RFC 3339, else the received time (as Mailpit)"},
        "ReturnPath": _STR, "Text": _STR, "HTML": _STR, "Inline": {"type": "array", "items": _ref("Attachment")},
        "Attachments": {"type": "array", "items": _ref("Attachment")},
        "ListUnsubscribe": _obj({"Header": _STR, "Links": _STRS, "Errors": _STR, "HeaderPost": _STR}),
        "Recipients": {"type": "array", "items": _STR, "description": "envelope recipients (ours)"},
        "Note": {"type": "string", "description": "only on a message the MIME parser refused: why; Text is then "
                 "its raw body (ours)"}})
    counts = {k: _int(0) for k in ("total", "unread", "count", "messages_count", "messages_unread", "start")}
    return {
        "Address": _obj({"Name": _STR, "Address": _STR}, ("Name", "Address")),
        "Attachment": attachment,
        "MessageSummary": _obj(summary, ("ID", "MessageID", "From", "To", "Subject", "Created", "Seq", "Code")),
        "MessagesSummary": _obj({**counts, "tags": _STRS, "messages": {"type": "array",
                                                                      "items": _ref("MessageSummary")}},
                                ("total", "unread", "count", "messages_count", "start", "tags", "messages")),
        "Message": _obj(message, ("ID", "MessageID", "From", "To", "Subject", "Date", "Text", "HTML",
                                  "Attachments", "Inline", "Seq", "Code")),
        "DeleteRequest": _obj({"IDs": _STRS}),
        "ReadRequest": _obj({"IDs": _STRS, "Read": {"type": "boolean", "default": False},
                             "Search": {"type": "string", "description": "Mailpit search syntax"}}),
    }


def _rule(kind: str, fields: dict[str, Any], required: tuple[str, ...] = (), to: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": {"type": "string", "enum": [kind]},
                             "start": _seconds(-MAX_SECONDS), "end": _seconds(-MAX_SECONDS), **fields}
    if to:
        props["to"] = {"type": "string", "minLength": 1, "description": "glob on a recipient"}
    return _obj(props, ("kind", *required), extra=False)


def _fault_rules() -> list[dict[str, Any]]:
    prob = {"type": "number", "minimum": 0, "maximum": 1, "default": 1}
    message = {"type": "string", "pattern": "^[ -~]*$", "maxLength": MAX_MESSAGE, "description": "reply text"}
    late = {"type": "string", "enum": [s for s in STAGES if s in ("rcpt", "data")], "default": "rcpt"}
    early = {"type": "string", "enum": [s for s in STAGES if s in ("connect", "mail")]}
    rules = [
        _rule("delay", {"distribution": {"type": "string", "enum": ["fixed"]}, "seconds": _seconds(0)}, ("seconds",)),
        _rule("delay", {"distribution": {"type": "string", "enum": ["uniform"]}, "min": _seconds(0),
                        "max": _seconds(0)}, ("distribution", "min", "max")),
        _rule("delay", {"distribution": {"type": "string", "enum": ["lognormal"]}, "median": _seconds(MIN_MEDIAN),
                        "p95": _seconds(MIN_MEDIAN)}, ("distribution", "median", "p95")),
        *(_rule(kind, {"probability": prob}) for kind in ("drop", "spam", "duplicate")),
        _rule("reorder", {"window": _seconds(0, exclusive=True), "probability": prob}, ("window",)),
        _rule("rate-limit", {"max": _int(0), "per": _seconds(0, exclusive=True),
                             "scope": {"type": "string", "enum": ["recipient", "overall"]}, "code": _int(400, 499)},
              ("max", "per")),
        _rule("outage", {}, to=False),
    ]
    for kind, low, high in (("tempfail", 400, 499), ("permfail", 500, 599)):
        fields = {"code": _int(low, high), "probability": prob, "message": message}
        rules.append(_rule(kind, {**fields, "stage": late}))
        rules.append(_rule(kind, {**fields, "stage": early}, ("stage",), to=False))
    return rules


def _harness_schemas() -> dict[str, Any]:
    trigger = _obj({"ErrorCode": _int(400, 599), "Probability": _int(0, 100, description="percent")})
    triggers = ("Sender", "Recipient", "Authentication")
    return {
        "FaultPlan": _obj({"seed": {"type": "integer", "nullable": True},
                           "rules": {"type": "array", "items": {"oneOf": _fault_rules()}}}, extra=False),
        "ChaosTrigger": trigger,
        "ChaosTriggers": _obj({t: _ref("ChaosTrigger") for t in triggers}, triggers),
        "ChaosTriggersRequest": _obj({t: _ref("ChaosTrigger") for t in triggers}, extra=False),
        "Info": _obj({
            "Version": _STR, "LatestVersion": _STR, "Database": _STR, "DatabaseSize": _int(0), "Messages": _int(0),
            "Unread": _int(0), "Tags": {"type": "object", "additionalProperties": _int(0)},
            "RuntimeStats": _obj({k: _int(0) for k in ("Uptime", "Memory", "MessagesDeleted", "SMTPAccepted",
                                                       "SMTPAcceptedSize", "SMTPRejected", "SMTPIgnored")}),
            "Seq": _int(0), "Waiters": _int(0), "Pending": _int(0), "TimeScale": {"type": "number"},
            "Epoch": {"type": "number"}, "ScenarioTime": {"type": "number"}, "Pid": _int(1),
            "SMTP": _obj({"Host": _STR, "Port": _int(0)})}, ("Version", "Messages", "Unread", "Seq")),
        "WebUIConfiguration": _obj({
            "Label": _STR, "SpamAssassin": {"type": "boolean"}, "ChaosEnabled": {"type": "boolean"},
            "DuplicatesIgnored": {"type": "boolean"}, "HideDeleteAllButton": {"type": "boolean"},
            "MessageRelay": _obj({"Enabled": {"type": "boolean"}})}),
    }


_MISDIRECTED = _text("the Host header is not one of this inbox's loopback names (DNS rebinding guard)")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as a dict (every operation may also answer 421 for a foreign Host)."""
    paths = {**_message_paths(), **_harness_paths()}
    for item in paths.values():
        for op in item.values():
            op["responses"]["421"] = _MISDIRECTED
    return {"openapi": "3.0.3",
            "info": {"title": "fake_smtp inbox API", "version": "v1",
                     "description": "Mailpit v1 compatible API plus wait, deliveries and faults. " + __doc__.split(
                         "\n\n")[1].replace("\n", " ")},
            "paths": paths,
            "components": {"schemas": {**_message_schemas(), **_harness_schemas()}}}
