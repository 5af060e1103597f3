"""A short, bounded excerpt of a page the profile could not classify, for the user fixing the profile.

"Unclassified" alone does not tell a user what their portal answered. The excerpt does: the
status, the final path, the `<title>` and the start of the visible text (entities unescaped,
scripts and styles dropped, whitespace collapsed). It is made only for an unclassified answer,
never for a page the profile recognised, so the load generator pays nothing per request; and it
is bounded whatever the page is (megabytes, binary junk, a `<script>` that never closes): only
the first `SCAN_CHARS` characters are read, in one linear pass, and what it keeps is capped.
"""

from __future__ import annotations

import html
import re
from typing import Any

SCAN_CHARS = 256 * 1024          # characters of the page looked at, at most
TEXT_CHARS = 500                 # visible text kept
TITLE_CHARS = 200
PATH_CHARS = 300

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,30})")
_TITLE = re.compile(r"<title\b[^>]{0,200}>", re.IGNORECASE)
_TITLE_END = re.compile(r"</title\s*>", re.IGNORECASE)
# Elements whose content a browser does not show as text.
_HIDDEN = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE)
           for name in ("script", "style", "head", "title", "template", "noscript", "svg")}
_SPACE = re.compile(r"\s+")
# C0/C1 controls other than whitespace, lone surrogates, and the noncharacters of binary junk.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str, limit: int) -> str:
    """Entities unescaped, controls dropped, whitespace collapsed, at most `limit` characters."""
    text = html.unescape(text) if "&" in text else text
    text = _SPACE.sub(" ", _CONTROL.sub("", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title_of(page: str) -> str:
    """The `<title>`'s text ('' without one)."""
    start = _TITLE.search(page)
    if start is None:
        return ""
    end = _TITLE_END.search(page, start.end())
    return clean(page[start.end(): end.start() if end else start.end() + 4 * TITLE_CHARS], TITLE_CHARS)


def visible_text(page: str, limit: int = TEXT_CHARS) -> str:
    """The start of what a browser shows: text between tags, hidden elements and comments skipped.

    One pass with `str.find` and anchored matches, each jumping forward, so it stays linear on
    any input; it stops once enough text is gathered.
    """
    parts: list[str] = []
    gathered, i, n = 0, 0, len(page)
    while i < n and gathered < 2 * limit:
        j = page.find("<", i)
        chunk = page[i:] if j < 0 else page[i:j]
        parts.append(chunk)
        gathered += len(chunk.strip())
        if j < 0:
            break
        if page.startswith("<!--", j):
            end = page.find("-->", j + 4)
            i = n if end < 0 else end + 3
            continue
        if page.startswith(("<!", "<?"), j):            # <!doctype …>, <![CDATA[…]]>, <?xml …?>
            end = page.find(">", j + 2)
            i = n if end < 0 else end + 1
            continue
        tag = _TAG.match(page, j)
        if tag is None:
            parts.append("<")                     # a bare "<" is text
            i = j + 1
            continue
        close = page.find(">", tag.end())
        if close < 0:
            break                                 # a tag that never closes: nothing visible after it
        hidden = _HIDDEN.get(tag.group(2).lower())
        if hidden is not None and not tag.group(1) and page[close - 1] != "/":
            end = hidden.search(page, close + 1)
            i = n if end is None else end.end()
        else:
            i = close + 1
        parts.append(" ")
    return clean("".join(parts), limit)


def page_excerpt(status: int, path: str, text: str) -> dict[str, Any]:
    """{status, path, title, text, chars}: what the portal answered, bounded (see the module doc)."""
    head = text[:SCAN_CHARS]
    return {"status": status, "path": clean(path, PATH_CHARS), "title": title_of(head),
            "text": visible_text(head), "chars": len(text)}


def excerpt_line(ex: dict[str, Any]) -> str:
    """One line for people: `HTTP 200 /partner/account, title 'Your account': 'Partner data …'`."""
    title = f", title {ex.get('title')!r}" if ex.get("title") else ", no title"
    return f"HTTP {ex.get('status')} {ex.get('path')}{title}: {ex.get('text') or '(no visible text)'!r}"
