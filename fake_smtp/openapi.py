"""OpenAPI 3 description of the whole HTTP API (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

_ADDR = {"type": "object", "properties": {"Name": {"type": "string"}, "Address": {"type": "string"}}}
_ADDRS = {"type": "array", "items": {"$ref": "#/components/schemas/Address"}}
_SUMMARY_PROPS: dict[str, Any] = {
    "ID": {"type": "string"}, "MessageID": {"type": "string"}, "Read": {"type": "boolean"},
    "From": {"$ref": "#/components/schemas/Address"}, "To": _ADDRS, "Cc": _ADDRS, "Bcc": _ADDRS, "ReplyTo": _ADDRS,
    "Subject": {"type": "string"}, "Created": {"type": "string", "format": "date-time"},
    "Username": {"type": "string"}, "Tags": {"type": "array", "items": {"type": "string"}},
    "Size": {"type": "integer"}, "Attachments": {"type": "integer"}, "Snippet": {"type": "string"},
    "Seq": {"type": "integer", "description": "strictly increasing delivery number"},
    "Code": {"type": "string", "nullable": True, "description": "verification code found in the text"},
    "Folder": {"type": "string", "enum": ["inbox", "spam"]},
    "Received": {"type": "number", "description": "Unix wall time the SMTP DATA was accepted"},
    "Delivered": {"type": "number", "description": "Unix wall time the message became visible"},
}


def _p(name: str, where: str = "query", schema: dict[str, Any] | None = None, desc: str = "",
       required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema or {"type": "string"}, "description": desc}


def _json(ref: str, desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_TEXT_OK = {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}
_BAD = {"description": "invalid input (one-line reason as text)"}
_NOT_FOUND = {"description": "message not found"}
_PAGING = [_p("start", schema={"type": "integer", "default": 0}),
           _p("limit", schema={"type": "integer", "default": 50}),
           _p("folder", schema={"type": "string", "enum": ["inbox", "spam", "any"], "default": "any"})]
_ID = _p("ID", "path", desc="message ID, or 'latest'")
_IDS_BODY = {"content": {"application/json": {"schema": {"type": "object", "properties": {
    "IDs": {"type": "array", "items": {"type": "string"}}, "Read": {"type": "boolean"},
    "Search": {"type": "string"}}}}}}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    paths: dict[str, Any] = {
        "/api/v1/messages": {
            "get": {"summary": "List messages, newest first", "parameters": _PAGING,
                    "responses": {"200": _json("MessagesSummary"), "400": _BAD}},
            "delete": {"summary": "Delete messages by ID (no IDs: all)", "requestBody": _IDS_BODY,
                       "responses": {"200": _TEXT_OK, "400": _BAD}},
            "put": {"summary": "Set the read flag (IDs, or Search, or all)", "requestBody": _IDS_BODY,
                    "responses": {"200": _TEXT_OK, "400": _BAD}},
        },
        "/api/v1/search": {
            "get": {"summary": "Search (Mailpit syntax: to:, from:, subject:, tag:, is:unread, after:, before:, words)",
                    "parameters": [_p("query", required=True), *_PAGING],
                    "responses": {"200": _json("MessagesSummary"), "400": _BAD}},
            "delete": {"summary": "Delete the messages matching a query", "parameters": [_p("query", required=True)],
                       "responses": {"200": _TEXT_OK, "400": _BAD}},
        },
        "/api/v1/message/{ID}": {"get": {"summary": "Full message (marks it read)", "parameters": [_ID],
                                         "responses": {"200": _json("Message"), "404": _NOT_FOUND}}},
        "/api/v1/message/{ID}/headers": {"get": {"summary": "Headers as {name: [values]}", "parameters": [_ID],
                                                 "responses": {"200": {"description": "headers"}, "404": _NOT_FOUND}}},
        "/api/v1/message/{ID}/raw": {"get": {"summary": "Raw message source", "parameters": [_ID],
                                             "responses": {"200": {"description": "RFC 5322 source"},
                                                           "404": _NOT_FOUND}}},
        "/api/v1/message/{ID}/part/{PartID}": {"get": {
            "summary": "Decoded content of one MIME part", "parameters": [_ID, _p("PartID", "path")],
            "responses": {"200": {"description": "part content"}, "404": _NOT_FOUND}}},
        "/api/v1/wait": {"get": {
            "summary": "Long-poll for the first matching message with Seq > after",
            "parameters": [_p("query"), _p("after", schema={"type": "integer", "default": 0}),
                           _p("timeout", schema={"type": "number", "default": 30, "maximum": 300},
                              desc="wall seconds"),
                           _p("folder", schema={"type": "string", "enum": ["inbox", "spam", "any"],
                                                "default": "inbox"})],
            "responses": {"200": _json("MessageSummary"), "204": {"description": "timeout, no match"},
                          "400": _BAD}}},
        "/api/v1/deliveries": {"get": {
            "summary": "Delivery history as JSON lines (seq_event > after, oldest first)",
            "parameters": [_p("after", schema={"type": "integer", "default": 0}),
                           _p("limit", schema={"type": "integer"}, desc="default: all")],
            "responses": {"200": {"description": "JSON lines",
                                  "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}}}},
        "/api/v1/faults": {
            "get": {"summary": "Current fault plan", "responses": {"200": _json("FaultPlan")}},
            "put": {"summary": "Replace the fault plan (invalid: 400, old plan kept)",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/FaultPlan"}}}},
                    "responses": {"200": _json("FaultPlan"), "400": _BAD}},
        },
        "/api/v1/chaos": {
            "get": {"summary": "Mailpit chaos triggers", "responses": {"200": _json("Chaos")}},
            "put": {"summary": "Set chaos triggers (omitted ones reset)", "responses": {"200": _json("Chaos"),
                                                                                       "400": _BAD}},
        },
        "/api/v1/info": {"get": {"summary": "Server information and runtime statistics",
                                 "responses": {"200": {"description": "info"}}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
        "/livez": {"get": {"summary": "Liveness", "responses": {"200": _TEXT_OK}}},
        "/readyz": {"get": {"summary": "Readiness", "responses": {"200": _TEXT_OK,
                                                                   "503": {"description": "not ready"}}}},
        "/": {"get": {"summary": "Web inbox page", "parameters": [_p("folder"), _p("to"), _p("page"), _p("id")],
                      "responses": {"200": {"description": "HTML"}}}},
    }
    schemas: dict[str, Any] = {
        "Address": _ADDR,
        "MessageSummary": {"type": "object", "properties": _SUMMARY_PROPS},
        "MessagesSummary": {"type": "object", "properties": {
            "total": {"type": "integer"}, "unread": {"type": "integer"}, "count": {"type": "integer"},
            "messages_count": {"type": "integer"}, "messages_unread": {"type": "integer"},
            "start": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/MessageSummary"}}}},
        "Message": {"type": "object", "properties": {
            **{k: v for k, v in _SUMMARY_PROPS.items() if k not in ("Snippet", "Attachments")},
            "ReturnPath": {"type": "string"}, "Date": {"type": "string"}, "Text": {"type": "string"},
            "HTML": {"type": "string"}, "Inline": {"type": "array", "items": {"type": "object"}},
            "Attachments": {"type": "array", "items": {"type": "object"}},
            "Recipients": {"type": "array", "items": {"type": "string"}}}},
        "FaultPlan": {"type": "object", "properties": {
            "seed": {"type": "integer", "nullable": True},
            "rules": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["delay", "drop", "spam", "tempfail", "permfail", "duplicate",
                                                    "reorder", "rate-limit", "outage"]},
                "to": {"type": "string"}, "start": {"type": "number"}, "end": {"type": "number"},
                "probability": {"type": "number"}, "distribution": {"type": "string"},
                "seconds": {"type": "number"}, "min": {"type": "number"}, "max": {"type": "number"},
                "median": {"type": "number"}, "p95": {"type": "number"},
                "stage": {"type": "string", "enum": ["connect", "mail", "rcpt", "data"]},
                "code": {"type": "integer"}, "window": {"type": "number"}, "per": {"type": "number"},
                "scope": {"type": "string", "enum": ["recipient", "overall"]},
                "message": {"type": "string"}}}}}},
        "Chaos": {"type": "object", "properties": {"Triggers": {"type": "object"}}},
    }
    return {"openapi": "3.0.3",
            "info": {"title": "fake_smtp inbox API", "version": "v1",
                     "description": "Mailpit v1 compatible API plus wait, deliveries and faults."},
            "paths": paths, "components": {"schemas": schemas}}
