"""Tornado handlers for the Mailpit v1 API plus our wait, deliveries and faults endpoints.

Thin layer: every handler validates input (400 with a one-line reason, stored data left
untouched), asks the store / inbox / fault engine, and renders Mailpit's JSON shapes.
Our extra summary fields are ``Seq``, ``Code``, ``Folder``, ``Received``, ``Delivered``.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from typing import Any

import tornado.web

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.api_base import ApiContext, BadRequest, BaseHandler, off_loop, summary_json
from mfa_harness.fake_smtp.faults import PlanError, parse_plan
from mfa_harness.fake_smtp.mailpit_shapes import go_headers, message_date
from mfa_harness.fake_smtp.openapi import MAX_LIMIT, MAX_START, MAX_WAIT, openapi_document
from mfa_harness.fake_smtp.search import QueryError, parse
from mfa_harness.fake_smtp.store import StoredMessage

__all__ = ["ROUTES", "ApiContext", "BadRequest", "BaseHandler", "NotFoundHandler"]  # ApiContext: bench imports it here

VERSION = "fake_smtp 0.1.0"
DEFAULT_LIMIT = 50
# MIME types that cannot carry script, so a part of one of them may be shown in the browser.
INLINE_TYPES = frozenset({"text/plain", "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                          "image/bmp", "audio/mpeg", "audio/ogg", "audio/wav", "video/mp4", "video/webm"})


def _ids_from(body: dict[str, Any] | None, where: str) -> list[str] | None:
    if body is None:
        return None
    if "IDs" not in body:
        return None
    ids = body["IDs"]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest(f"{where}: IDs must be a list of strings")
    return ids


class MessagesHandler(BaseHandler):
    def get(self) -> None:
        start = self.int_arg("start", 0, 0, MAX_START)
        limit = self.int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        total, unread, msgs = self.inbox.store.page(None, start, limit, self.folder_arg("any"))
        self.write_json(self.list_json(total, unread, msgs, start))

    def delete(self) -> None:
        ids = _ids_from(self.json_body(), "DELETE /api/v1/messages")
        store = self.inbox.store
        gone = store.delete_all() if not ids else store.delete(ids)
        self.inbox.forget_files(gone)
        self.finish("ok")

    def put(self) -> None:
        """Mailpit's read flag: ``Read`` (default false, as in Mailpit) for the IDs, else for the
        messages matching ``Search``, else for all."""
        body = self.json_body() or {}
        where = "PUT /api/v1/messages"
        ids = _ids_from(body, where)
        read = body.get("Read", False)
        if not isinstance(read, bool):
            raise BadRequest(f"{where}: Read must be true or false")
        search = body.get("Search", "")
        if not isinstance(search, str):
            raise BadRequest(f"{where}: Search must be a string")
        store = self.inbox.store
        if ids:
            msgs = [m for m in (store.get(i) for i in ids) if m is not None]
        else:
            try:
                q = parse(search) if search else None
            except QueryError as exc:
                raise BadRequest(f"invalid Search: {exc}") from None
            msgs = list(store.select(q))
        self.inbox.set_read(msgs, read)
        self.finish("ok")


class SearchHandler(BaseHandler):
    def get(self) -> None:
        q = self.query_arg()
        start = self.int_arg("start", 0, 0, MAX_START)
        limit = self.int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        total, unread, msgs = self.inbox.store.page(q, start, limit, self.folder_arg("any"))
        self.write_json(self.list_json(total, unread, msgs, start))

    def delete(self) -> None:
        q = self.query_arg()
        if not q.terms:
            raise BadRequest("DELETE /api/v1/search needs a non-empty query (use DELETE /api/v1/messages for all)")
        store = self.inbox.store
        ids = [m.id for m in store.select(q, self.folder_arg("any"))]
        self.inbox.forget_files(store.delete(ids))
        self.finish("ok")


class MessageHandler(BaseHandler):
    async def get(self, msg_id: str) -> None:
        m = self.message_arg(msg_id)
        view = await off_loop(mime.full_view, m.raw)
        self.inbox.set_read([m], True)
        data = summary_json(m)
        data.pop("Snippet")
        data.pop("Attachments")
        data.update({"ReturnPath": view["ReturnPath"] or m.mail_from,
                     "Date": message_date(str(view["Date"] or ""), m.received),
                     "ListUnsubscribe": {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""},
                     "Text": view["Text"], "HTML": view["HTML"], "Inline": view["Inline"],
                     "Attachments": view["Attachments"], "Recipients": list(m.recipients)})
        if view["Note"]:  # the MIME parser refused it: Text is the raw body
            data["Note"] = view["Note"]
        self.write_json(data)


class HeadersHandler(BaseHandler):
    async def get(self, msg_id: str) -> None:
        m = self.message_arg(msg_id)
        self.write_json(go_headers(await off_loop(mime.headers, m.raw)))


class RawHandler(BaseHandler):
    def get(self, msg_id: str) -> None:
        m = self.message_arg(msg_id)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(m.raw)


class PartHandler(BaseHandler):
    async def get(self, msg_id: str, part_id: str) -> None:
        m = self.message_arg(msg_id)
        found = await off_loop(mime.part, m.raw, part_id)
        if found is None:
            raise tornado.web.HTTPError(404, reason="Part not found")
        ctype, payload = found
        self.set_header("Content-Type", ctype)
        # Only passive types are shown inline; HTML, SVG, XML and anything else a browser could
        # run is a download (and the sandbox CSP holds even if a browser renders it anyway).
        self.set_header("Content-Disposition", "inline" if ctype.lower() in INLINE_TYPES else "attachment")
        self.finish(payload)


class WaitHandler(BaseHandler):
    """Long-poll: the first match with Seq > after, woken by delivery; 204 at the timeout.

    A match already stored is answered at once; otherwise one loop timer ends the wait (no
    ``asyncio.wait_for``, which wraps every wait in a second future and callbacks).
    """

    _future: asyncio.Future[StoredMessage] | None = None
    _gone = False
    _timed_out = False

    async def get(self) -> None:
        q = self.query_arg()
        after = self.int_arg("after", 0)
        raw_timeout = self.get_query_argument("timeout", "30")
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise BadRequest(f"timeout must be a number of seconds, got {raw_timeout!r}") from None
        if not 0 <= timeout <= MAX_WAIT:
            raise BadRequest(f"timeout must be between 0 and {MAX_WAIT:g} seconds, got {raw_timeout}")
        folder = self.folder_arg("inbox")
        future = self._future = self.inbox.store.wait(q, after, folder)
        if future.done():   # already stored: no timer, nothing for shutdown to wait for
            self.write_json(summary_json(future.result()))
            return
        finished = asyncio.get_running_loop().create_future()
        self.ctx.active_waits.add(finished)
        try:
            await self._answer(future, timeout)
        finally:
            self.ctx.active_waits.discard(finished)
            finished.set_result(None)

    def _time_out(self) -> None:
        if self._future is not None and not self._future.done():
            self._timed_out = True
            self._future.cancel()

    async def _answer(self, future: asyncio.Future[StoredMessage], timeout: float) -> None:
        if timeout <= 0:
            self._time_out()
        timer = asyncio.get_running_loop().call_later(timeout, self._time_out)
        try:
            msg = await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this handler itself is being cancelled
            if self._timed_out:
                self.set_status(204)
                await self.finish()
                return
            if self._gone:
                return  # the client went away; on_connection_close cancelled the waiter
            self.set_status(503)  # shutdown cancelled every waiter
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            await self.finish("inbox shutting down\n")
            return
        finally:
            timer.cancel()
        self.write_json(summary_json(msg))

    def on_connection_close(self) -> None:
        self._gone = True
        if self._future is not None and not self._future.done():
            self._future.cancel()


class DeliveriesHandler(BaseHandler):
    def get(self) -> None:
        after = self.int_arg("after", 0)
        limit = self.int_arg("limit", 0, 1) if self.get_query_argument("limit", None) is not None else None
        lines = self.inbox.history.after(after, limit)
        self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.finish("".join(line + "\n" for line in lines))


class FaultsHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(self.inbox.engine.plan.to_json())

    def put(self) -> None:
        body = self.json_body()
        try:
            plan = parse_plan(body if body is not None else {}, "PUT /api/v1/faults")
        except PlanError as exc:
            raise BadRequest(str(exc)) from None
        self.inbox.engine.set_plan(plan)
        self.write_json(plan.to_json())


class ChaosHandler(BaseHandler):
    """Mailpit's chaos triggers, answered as Mailpit does: the triggers object itself."""

    def get(self) -> None:
        self.write_json(self.inbox.engine.chaos_json()["Triggers"])

    def put(self) -> None:
        body = self.json_body()
        try:
            self.write_json(self.inbox.engine.set_chaos(body if body is not None else {})["Triggers"])
        except PlanError as exc:
            raise BadRequest(str(exc)) from None


class InfoHandler(BaseHandler):
    def get(self) -> None:
        inbox, store, clock = self.inbox, self.inbox.store, self.inbox.clock
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.write_json({
            "Version": VERSION, "LatestVersion": "", "Database": inbox.maildir.root if inbox.maildir else "",
            "DatabaseSize": sum(m.size for m in store.select(None)) if len(store) <= 10_000 else 0,
            "Messages": len(store), "Unread": store.unread, "Tags": {t: 0 for t in store.tags()},
            "RuntimeStats": {"Uptime": int(time.time() - self.ctx.started), "Memory": rss_kb * 1024,
                             "MessagesDeleted": store.deleted_total, "SMTPAccepted": inbox.stats.accepted,
                             "SMTPAcceptedSize": inbox.stats.accepted_size, "SMTPRejected": inbox.stats.rejected,
                             "SMTPIgnored": inbox.stats.ignored},
            "Seq": store.last_seq, "Waiters": store.waiter_count, "Pending": len(inbox.pending),
            "TimeScale": clock.scale, "Epoch": clock.epoch, "ScenarioTime": clock.st(), "Pid": os.getpid(),
            "SMTP": {"Host": self.ctx.smtp_host, "Port": self.ctx.smtp_port},
        })


class LivezHandler(BaseHandler):
    def get(self) -> None:
        self.finish("ok")


class ReadyzHandler(BaseHandler):
    def get(self) -> None:
        if not self.ctx.ready:
            self.fail(503, "not ready")
            return
        self.finish("ok")


class NotFoundHandler(BaseHandler):
    """Every path no route knows: a plain-text 404 (with the guards of every other answer)."""

    def prepare(self) -> None:
        super().prepare()
        if not self.host_refused:
            raise tornado.web.HTTPError(404)


class OpenApiHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(openapi_document())


ID = r"([A-Za-z0-9_-]+)"
ROUTES: list[tuple[str, type[BaseHandler]]] = [
    (r"/api/v1/messages", MessagesHandler),
    (r"/api/v1/search", SearchHandler),
    (rf"/api/v1/message/{ID}", MessageHandler),
    (rf"/api/v1/message/{ID}/headers", HeadersHandler),
    (rf"/api/v1/message/{ID}/raw", RawHandler),
    (rf"/api/v1/message/{ID}/part/([0-9.]+)", PartHandler),
    (r"/api/v1/wait", WaitHandler),
    (r"/api/v1/deliveries", DeliveriesHandler),
    (r"/api/v1/faults", FaultsHandler),
    (r"/api/v1/chaos", ChaosHandler),
    (r"/api/v1/info", InfoHandler),
    (r"/api/v1/openapi.json", OpenApiHandler),
    (r"/livez", LivezHandler),
    (r"/readyz", ReadyzHandler),
]
