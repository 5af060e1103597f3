"""What a message summary is, and the text helpers both MIME paths share.

``Summary`` is what the store keeps besides the raw bytes; ``clean`` and ``html_to_text``
turn header values and HTML bodies into the text summaries, search and code extraction read.
Both the stdlib path (``mime``) and the hand-written fast path (``mime_quick``) build it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

SNIPPET_CHARS = 250
SEARCH_TEXT_CHARS = 16 * 1024

_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def clean(value: object) -> str:
    """Text of a header value with surrogate escapes decoded as UTF-8."""
    s = str(value) if value is not None else ""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def html_to_text(markup: str) -> str:
    """Crude visible text of an HTML body (for snippets, search and codes)."""
    return html.unescape(_TAGS.sub(" ", markup))



@dataclass(slots=True)
class Summary:
    """What the store keeps besides the raw bytes."""

    message_id: str = ""
    subject: str = ""
    from_: dict[str, str] = field(default_factory=lambda: {"Name": "", "Address": ""})
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    bcc: list[dict[str, str]] = field(default_factory=list)
    reply_to: list[dict[str, str]] = field(default_factory=list)
    date: str = ""
    text: str = ""
    snippet: str = ""
    attachments: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = ""  # why the message is kept unparsed ("" when it parsed)
