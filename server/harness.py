"""Harness endpoints (`--harness` only, loopback clients only): accounts, events, clock, support
actions (notification address, lock / unlock)."""

from __future__ import annotations

import ipaddress
import json
import math
from typing import Any

import tornado.web

from .mail import AddressError
from .portal import Portal


class HarnessHandler(tornado.web.RequestHandler):
    """JSON endpoints for tests and the scenario runner; refuse anything not from loopback."""

    @property
    def portal(self) -> Portal:
        return self.application.settings["portal"]

    def check_xsrf_cookie(self) -> None:  # machine API, no browser form
        return None

    def prepare(self) -> None:
        try:
            loopback = ipaddress.ip_address(self.request.remote_ip or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise tornado.web.HTTPError(403)
        if len(self.request.body) > 64 * 1024:
            raise tornado.web.HTTPError(413)
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(exc, "log_message", None) or self._reason
        self.finish({"error": reason})

    def json_body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise tornado.web.HTTPError(400, "bad_json") from exc
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "bad_json")
        return data


    def partner_id(self, data: dict) -> int:
        """`partner_id` from a JSON body: an integer SQLite can hold, else 400."""
        value = data.get("partner_id")
        if isinstance(value, bool) or not isinstance(value, int):
            raise tornado.web.HTTPError(400, "partner_id must be an integer")
        if not -2 ** 63 <= value < 2 ** 63:
            raise tornado.web.HTTPError(400, "unknown_partner")
        return value


class AccountsHandler(HarnessHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.portal.store.accounts()))


class EventsHandler(HarnessHandler):
    def get(self) -> None:
        try:
            after = int(self.get_query_argument("after", "0"))
            limit = min(10000, max(1, int(self.get_query_argument("limit", "1000"))))
        except ValueError as exc:
            raise tornado.web.HTTPError(400, "after and limit must be integers") from exc
        self.set_header("Content-Type", "application/x-ndjson")
        lines = self.portal.store.events_after(after, limit)
        self.finish("".join(json.dumps(line) + "\n" for line in lines))


class ClockHandler(HarnessHandler):
    def get(self) -> None:
        self.finish({"offset": self.portal.store.clock_offset(), "st": self.portal.clock.now(),
                     "wall": self.portal.clock.wall(), "scale": self.portal.clock.scale})

    def post(self) -> None:
        by = self.json_body().get("advance")
        if isinstance(by, bool) or not isinstance(by, int | float) or not math.isfinite(by):
            raise tornado.web.HTTPError(400, "advance must be a finite number of scenario seconds")
        self.finish({"offset": self.portal.store.advance_clock(float(by))})


class NotificationEmailHandler(HarnessHandler):
    def post(self) -> None:
        data = self.json_body()
        partner_id, address = self.partner_id(data), data.get("address")
        try:
            voided = self.portal.set_notification_email(partner_id, address)
        except AddressError as exc:
            raise tornado.web.HTTPError(400, f"bad_address: {exc}") from exc
        except KeyError as exc:
            raise tornado.web.HTTPError(400, "unknown_partner") from exc
        self.finish({"partner_id": partner_id, "address": address.strip(), "voided": voided})


class LockHandler(HarnessHandler):
    """`POST /_harness/lock` and `/_harness/unlock` `{"partner_id": N}`: the support action."""

    def initialize(self, locked: bool) -> None:
        self.locked = locked

    def post(self) -> None:
        partner_id = self.partner_id(self.json_body())
        try:
            result = self.portal.set_locked(partner_id, self.locked, "harness")
        except KeyError as exc:
            raise tornado.web.HTTPError(400, "unknown_partner") from exc
        self.finish(result)
