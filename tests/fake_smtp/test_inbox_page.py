"""The inbox page is a template with autoescape: what a mail or a URL carries is shown as text."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from fake_smtp_helpers import InboxProcess

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_hostile_subject_sender_body_and_filter_come_out_escaped(inbox: InboxProcess,
                                                                 addr: Callable[[str], str]) -> None:
    """Subject, body and the `to` filter echoed into attributes and links: never markup.
    (Turning the template loader's autoescape off in fake_smtp/web.py makes this fail.)"""
    to = addr("evil")
    inbox.send(to, subject=EVIL, body=f"{EVIL}\r\nYour verification code is: 123456\r\n")
    listing = inbox.get("/?" + urllib.parse.urlencode({"to": to}))
    assert listing.status == 200 and f">{ESCAPED}</a>" in listing.text
    msg_id = inbox.get_json("/api/v1/message/latest")["ID"]
    view = inbox.get("/?" + urllib.parse.urlencode({"id": msg_id, "to": EVIL + '"'}))
    assert view.status == 200
    assert f"<h2>{ESCAPED}</h2>" in view.text and f"<pre>{ESCAPED}" in view.text
    assert f'value="{ESCAPED}&quot;"' in view.text and f"to={ESCAPED}&quot;\">" in view.text
    for page in (listing.text, view.text):   # the page's own two scripts only
        assert page.count("<script") == 2, page
