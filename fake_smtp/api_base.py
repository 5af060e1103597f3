"""What every inbox HTTP handler shares: the context, the JSON and argument helpers with clear
400s (``BadRequest``), the Mailpit summary shape, and parsing big mail off the event loop.
The handlers themselves are in ``api`` (Mailpit's v1 and ours), ``api_mailpit`` and ``web``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tornado.web
from tornado.httputil import responses

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.guards import GuardedHandler
from mfa_harness.fake_smtp.history import c_encoder
from mfa_harness.fake_smtp.inbox import Inbox
from mfa_harness.fake_smtp.mailpit_shapes import rfc3339
from mfa_harness.fake_smtp.search import Query, QueryError, parse
from mfa_harness.fake_smtp.store import StoredMessage

# json.dumps(data, ensure_ascii=False), the same bytes, without building an encoder per answer
encode_json = c_encoder(", ", ": ")


@dataclass
class ApiContext:
    inbox: Inbox
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0
    started: float = 0.0
    http_host: str = "127.0.0.1"
    ready: bool = False
    active_waits: set[asyncio.Future[None]] = field(default_factory=set)


def summary_json(m: StoredMessage) -> dict[str, Any]:
    """Mailpit ``MessageSummary`` plus our fields."""
    s = m.summary
    bcc = s.bcc or [{"Name": "", "Address": a} for a in m.bcc_envelope]
    return {
        "ID": m.id, "MessageID": s.message_id, "Read": m.read, "From": s.from_, "To": s.to, "Cc": s.cc,
        "Bcc": bcc, "ReplyTo": s.reply_to, "Subject": s.subject, "Created": rfc3339(m.delivered),
        "Username": "", "Tags": list(m.tags), "Size": m.size, "Attachments": s.attachments, "Snippet": s.snippet,
        "Seq": m.seq, "Code": m.code, "Folder": m.folder, "Received": m.received, "Delivered": m.delivered,
    }


class BaseHandler(GuardedHandler):
    """Shared helpers: context, JSON output, argument parsing with clear 400s (the security
    guards every answer passes are in ``GuardedHandler``)."""

    @property
    def ctx(self) -> ApiContext:
        return self.settings["ctx"]  # type: ignore[no-any-return]

    @property
    def inbox(self) -> Inbox:
        return self.ctx.inbox

    def check_xsrf_cookie(self) -> None:
        return None

    def compute_etag(self) -> None:
        """No ETag: Tornado hashed every answer (SHA-1) for a tag no client here sends back, on
        answers that change with every delivery (lists, waits, info); Mailpit sends none either."""
        return None

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(encode_json(data))

    def fail(self, status: int, reason: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(reason + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if status_code == 405:  # RFC 9110: a 405 names the methods the resource has
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, BadRequest):
            self.finish(exc.text + "\n")
            return
        # the reason phrase tornado's send_error sets, read without its private `_reason`
        reason = getattr(exc, "reason", None) if isinstance(exc, tornado.web.HTTPError) else None
        self.finish(f"{status_code} {reason if reason is not None else responses.get(status_code, 'Unknown')}\n")

    def int_arg(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            v = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
        if v < minimum or (maximum is not None and v > maximum):
            bound = f" and <= {maximum}" if maximum is not None else ""
            raise BadRequest(f"{name} must be >= {minimum}{bound}, got {v}")
        return v

    def folder_arg(self, default: str) -> str:
        folder = self.get_query_argument("folder", default)
        if folder not in ("inbox", "spam", "any"):
            raise BadRequest(f"folder must be inbox, spam or any, got {folder!r}")
        return folder

    def query_arg(self) -> Query:
        try:
            return parse(self.get_query_argument("query", ""))
        except QueryError as exc:
            raise BadRequest(f"invalid query: {exc}") from None

    def json_body(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when there is none; anything else is a 400."""
        if not self.request.body.strip():
            return None
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        except RecursionError:  # the stdlib parser recurses per level: 50,000 '[' must not be a 500
            raise BadRequest("body is not valid JSON: nested too deeply") from None
        if not isinstance(body, dict):
            raise BadRequest(f"body must be a JSON object, got {type(body).__name__}")
        return body

    def message_arg(self, msg_id: str) -> StoredMessage:
        m = self.inbox.store.latest() if msg_id == "latest" else self.inbox.store.get(msg_id)
        if m is None:
            raise tornado.web.HTTPError(404, reason="Message not found")
        return m

    def list_json(self, total_matches: int, unread_matches: int, msgs: list[StoredMessage],
                  start: int) -> dict[str, Any]:
        store = self.inbox.store
        return {"total": len(store), "unread": store.unread, "count": len(msgs), "messages_count": total_matches,
                "messages_unread": unread_matches, "start": start, "tags": store.tags(),
                "messages": [summary_json(m) for m in msgs]}



class BadRequest(tornado.web.HTTPError):
    """Invalid client input, answered with 400 and this one-line text."""

    def __init__(self, text: str) -> None:
        super().__init__(400)
        self.text = text


async def off_loop(func: Callable[..., Any], raw: bytes, *args: Any) -> Any:
    """``func(raw, *args)``, in a worker thread when the message is big enough to stall the loop."""
    if mime.needs_worker(raw):  # big, or many parts: parsing could stall the loop
        return await asyncio.get_running_loop().run_in_executor(None, func, raw, *args)
    return func(raw, *args)
