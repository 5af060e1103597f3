"""The web inbox page (``GET /``): server-rendered HTML from templates/inbox.html, no external assets.

Lists one page (50) of a folder newest first, optionally filtered by recipient, so it
stays fast with 100,000 messages; ``?id=`` shows one message with its code large and
copyable.  A small inline script long-polls ``/api/v1/wait`` with the newest Seq shown
and reloads the first page when a new matching message arrives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tornado.template import Loader

from mfa_harness.fake_smtp import mime
from mfa_harness.fake_smtp.api_base import BadRequest, BaseHandler
from mfa_harness.fake_smtp.search import Query, Term
from mfa_harness.fake_smtp.store import StoredMessage

PAGE_SIZE = 50
_TEMPLATES = Loader(str(Path(__file__).parent / "templates"), autoescape="xhtml_escape")

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#234;color:#fff;padding:8px 16px}
header a{color:#fff;margin-right:12px}a{color:#124}nav.tabs a{padding:6px 12px;display:inline-block}
nav.tabs a.on{font-weight:bold;border-bottom:3px solid #234}main{padding:8px 16px}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}
tr.unread td{font-weight:600}.code{font:700 2.5em monospace;letter-spacing:.15em;padding:8px;
border:2px dashed #234;display:inline-block;user-select:all}pre{white-space:pre-wrap;background:#f6f6f6;padding:8px}
form{display:inline}.muted{color:#777}
"""

_SCRIPT = """
(function(){
  var cfg = JSON.parse(document.getElementById('live').textContent);
  if (!cfg.live) return;
  var after = cfg.after, tries = 0;
  function poll(){
    if (tries++ > 100000) return;
    var url = '/api/v1/wait?timeout=60&folder=' + cfg.folder + '&after=' + after +
              '&query=' + encodeURIComponent(cfg.query);
    fetch(url).then(function(r){
      if (r.status === 200) { location.reload(); return; }
      setTimeout(poll, r.status === 204 ? 0 : 5000);
    }).catch(function(){ setTimeout(poll, 5000); });
  }
  poll();
  var btn = document.getElementById('copy');
  if (btn) btn.onclick = function(){ navigator.clipboard.writeText(btn.dataset.code); };
})();
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The page's own inline style and script, by hash, and nothing else: no other script runs,
# even if a subject ever slipped past escaping.  fetch() may only reach this origin.
PAGE_CSP = (f"default-src 'none'; script-src {_sha256(_SCRIPT)}; style-src {_sha256(_STYLE)}; "
            "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def _script_json(data: dict[str, Any]) -> str:
    """JSON to put inside a <script> element: every `<` as \\u003c, so no value (the `to` filter)
    can close the element or open a comment there; JSON.parse reads the same value."""
    return json.dumps(data).replace("<", "\\u003c")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _addrs(addrs: list[dict[str, str]]) -> str:
    return ", ".join(a["Address"] or a["Name"] for a in addrs)


class WebHandler(BaseHandler):
    """Renders the list or one message through templates/inbox.html (autoescaped)."""

    csp = PAGE_CSP

    async def get(self) -> None:
        folder = self.get_query_argument("folder", "inbox")
        if folder not in ("inbox", "spam"):
            raise BadRequest("folder must be inbox or spam")
        to = (self.get_query_argument("to", "") or "").strip().lower()
        page = self.int_arg("page", 0, 0, 1_000_000)
        msg_id = self.get_query_argument("id", "")
        store = self.inbox.store
        live = {"live": False, "after": store.last_seq, "folder": folder, "query": f"to:{to}" if to else ""}
        args: dict[str, Any] = {"listing": False, "message": None}
        if msg_id:
            m = store.get(msg_id)
            if m is None:
                self.set_status(404)
            else:
                args.update(message=m, text=await self._text(m))
        else:
            args.update(self._list(to, folder, page))
            live["live"] = page == 0
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_TEMPLATES.load("inbox.html").generate(
            style=_STYLE, script=_SCRIPT, live_json=_script_json(live), total=len(store),
            unread=store.unread, folder=folder, to=to, when=_when, addrs=_addrs, **args))

    def _list(self, to: str, folder: str, page: int) -> dict[str, Any]:
        """One page (PAGE_SIZE) of a folder, newest first, filtered by recipient."""
        query = Query((Term("to", to, False),)) if to else Query(())
        matches, _unread, msgs = self.inbox.store.page(query, page * PAGE_SIZE, PAGE_SIZE, folder)
        return {"listing": True, "messages": msgs, "matches": matches, "page": page, "page_size": PAGE_SIZE,
                "first": page * PAGE_SIZE + 1 if msgs else 0}

    async def _text(self, m: StoredMessage) -> str:
        """The message's text part (parsed off the loop when big) and mark it read."""
        if not mime.needs_worker(m.raw):
            view = mime.full_view(m.raw)
        else:
            view = await asyncio.get_running_loop().run_in_executor(None, mime.full_view, m.raw)
        self.inbox.set_read([m], True)
        return str(view.get("Text") or "")
