"""The web inbox page (``GET /``): plain server-rendered HTML, no external assets.

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
from html import escape

from fake_smtp import mime
from fake_smtp.api import BadRequest, BaseHandler
from fake_smtp.search import Query, Term
from fake_smtp.store import StoredMessage

PAGE_SIZE = 50

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


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _addrs(addrs: list[dict[str, str]]) -> str:
    return ", ".join(a["Address"] or a["Name"] for a in addrs)


class WebHandler(BaseHandler):
    """Renders the list or one message."""

    csp = PAGE_CSP

    async def get(self) -> None:
        folder = self.get_query_argument("folder", "inbox")
        if folder not in ("inbox", "spam"):
            raise BadRequest("folder must be inbox or spam")
        to = (self.get_query_argument("to", "") or "").strip().lower()
        page = self.int_arg("page", 0, 0, 1_000_000)
        msg_id = self.get_query_argument("id", "")
        store = self.inbox.store
        query = Query((Term("to", to, False),)) if to else Query(())
        body: list[str] = []
        live = {"live": False, "after": store.last_seq, "folder": folder, "query": f"to:{to}" if to else ""}
        if msg_id:
            m = store.get(msg_id)
            if m is None:
                self.set_status(404)
                body.append("<p>Message not found (it may have been pruned).</p>")
            else:
                body.append(await self._message(m, to))
        else:
            body.append(self._list(query, folder, to, page))
            live["live"] = page == 0
        self.set_header("Content-Type", "text/html; charset=utf-8")
        live_json = json.dumps(live).replace("</", "<\\/")
        tabs = "".join(
            f'<a class="{"on" if f == folder else ""}" href="/?folder={f}&amp;to={escape(to)}">{f}</a>'
            for f in ("inbox", "spam"))
        self.finish(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>fake_smtp inbox</title>"
            f"<style>{_STYLE}</style></head><body data-page=inbox>"
            f"<header><a href=/>fake_smtp inbox</a><span class=muted>{len(store)} messages, "
            f"{store.unread} unread</span></header><main><nav class=tabs>{tabs}"
            f'<form action=/ method=get><input type=hidden name=folder value="{folder}">'
            f'<label for=to-filter>To</label> <input id=to-filter name=to type=search placeholder="recipient address" '
            f'value="{escape(to)}"> <button>Filter</button></form>'
            f"</nav>{''.join(body)}</main>"
            f'<script type="application/json" id=live>{live_json}</script>'
            f"<script>{_SCRIPT}</script></body></html>")

    def _list(self, query: Query, folder: str, to: str, page: int) -> str:
        total, _unread, msgs = self.inbox.store.page(query, page * PAGE_SIZE, PAGE_SIZE, folder)
        rows = []
        for m in msgs:
            code = f"<b>{escape(m.code)}</b>" if m.code else ""
            rows.append(
                f'<tr class="{"" if m.read else "unread"}"><td>{m.seq}</td><td>{_when(m.delivered)}</td>'
                f"<td>{escape(_addrs(m.summary.to) or ', '.join(m.recipients))}</td>"
                f'<td><a href="/?id={m.id}&amp;folder={folder}&amp;to={escape(to)}">{escape(m.summary.subject or "(no subject)")}</a></td>'
                f"<td>{code}</td></tr>")
        nav = []
        base = f"/?folder={folder}&amp;to={escape(to)}"
        if page > 0:
            nav.append(f'<a href="{base}&amp;page={page - 1}">newer</a>')
        if (page + 1) * PAGE_SIZE < total:
            nav.append(f'<a href="{base}&amp;page={page + 1}">older</a>')
        first = page * PAGE_SIZE + 1 if msgs else 0
        return (f"<p class=muted>{first}-{page * PAGE_SIZE + len(msgs)} of {total}</p>"
                "<table><thead><tr><th>Seq</th><th>Delivered (UTC)</th><th>To</th><th>Subject</th><th>Code</th>"
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table><p>{' '.join(nav)}</p>")

    async def _message(self, m: StoredMessage, to: str = "") -> str:
        if not mime.needs_worker(m.raw):
            view = mime.full_view(m.raw)
        else:
            view = await asyncio.get_running_loop().run_in_executor(None, mime.full_view, m.raw)
        self.inbox.set_read([m], True)
        code = ""
        if m.code:
            code = (f'<p>Code:</p><p><span class=code id=code>{escape(m.code)}</span> '
                    f'<button id=copy data-code="{escape(m.code)}">Copy</button></p>')
        s = m.summary
        return (f'<p><a href="/?folder={m.folder}&amp;to={escape(to)}">&larr; back</a></p><h2>{escape(s.subject or "(no subject)")}</h2>'
                f"<p>From: {escape(_addrs([s.from_]))}<br>To: {escape(_addrs(s.to))}<br>"
                f"Envelope recipients: {escape(', '.join(m.recipients))}<br>Seq {m.seq}, folder {m.folder}, "
                f"delivered {_when(m.delivered)} UTC, <a href=\"/api/v1/message/{m.id}/raw\">raw</a></p>"
                f"{code}<pre>{escape(str(view.get('Text') or ''))}</pre>")
