"""Mailpit routes that clients call besides the core list and message ones: ``/api/v1/tags``,
``/api/v1/webui`` and ``/view/{ID}.html|.txt`` (the shapes themselves are in ``mailpit_shapes``)."""

from __future__ import annotations

from typing import Any

import tornado.web

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.api_base import BaseHandler, off_loop

# A rendered mail is shown, never run: no script, no request off this origin, an opaque
# origin (sandbox) so it cannot read the API even if a browser ignored the rest.
VIEW_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'; "
            "base-uri 'none'; form-action 'none'; sandbox")


class TagsHandler(BaseHandler):
    """``GET /api/v1/tags``: every tag in use, sorted (Mailpit's ``ArrayResponse``)."""

    def get(self) -> None:
        self.write_json(self.inbox.store.tags())


class WebUIHandler(BaseHandler):
    """``GET /api/v1/webui``: Mailpit's web UI settings, as they are for this inbox."""

    def get(self) -> None:
        self.write_json({
            "Label": "fake_smtp", "SpamAssassin": False, "ChaosEnabled": True, "DuplicatesIgnored": False,
            "HideDeleteAllButton": False,
            "MessageRelay": {"Enabled": False, "SMTPServer": "", "ReturnPath": "", "AllowedRecipients": "",
                             "BlockedRecipients": "", "OverrideFrom": "", "PreserveMessageIDs": False},
        })


class _ViewHandler(BaseHandler):
    async def view(self, msg_id: str) -> tuple[str, dict[str, Any]]:
        m = self.message_arg(msg_id)
        return m.id, await off_loop(mime.full_view, m.raw)


class ViewHtmlHandler(_ViewHandler):
    """``GET /view/{ID}.html``: the HTML part alone (404 without one), ``cid:`` images pointed at
    the part API, shown under a CSP that lets nothing in it run."""

    csp = VIEW_CSP

    async def get(self, msg_id: str) -> None:
        real_id, view = await self.view(msg_id)
        markup = str(view["HTML"] or "")
        if not markup:
            raise tornado.web.HTTPError(404, reason="Message has no HTML part")
        for part in view["Inline"] + view["Attachments"]:
            if part.get("ContentID"):
                markup = markup.replace(f"cid:{part['ContentID']}",
                                        f"/api/v1/message/{real_id}/part/{part['PartID']}")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(markup)


class ViewTextHandler(_ViewHandler):
    """``GET /view/{ID}.txt``: the text part alone (404 without one)."""

    async def get(self, msg_id: str) -> None:
        _real_id, view = await self.view(msg_id)
        text = str(view["Text"] or "")
        if not text:
            raise tornado.web.HTTPError(404, reason="Message has no text part")
        self.finish(text)


ID = r"([A-Za-z0-9_-]+)"
COMPAT_ROUTES: list[tuple[str, type[BaseHandler]]] = [
    (r"/api/v1/tags", TagsHandler),
    (r"/api/v1/webui", WebUIHandler),
    (rf"/view/{ID}\.html", ViewHtmlHandler),
    (rf"/view/{ID}\.txt", ViewTextHandler),
]
