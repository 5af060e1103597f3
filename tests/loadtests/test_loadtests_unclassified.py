"""An answer the profile cannot classify keeps a bounded excerpt of the page (issue 11).

The excerpt is what lets a user fix their profile: status, final path, `<title>` and the start of
the visible text, entities unescaped and whitespace collapsed. It must stay small whatever the
portal sends (megabytes, binary junk, a script that never closes), and it is made only for an
unclassified answer, never for a page the profile recognised.
"""

from __future__ import annotations

import json
import os
import random

from loadtests_stack import canned_pages
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mfa_harness.loadtests.page_excerpt import SCAN_CHARS, TEXT_CHARS, TITLE_CHARS, excerpt_line, page_excerpt
from mfa_harness.loadtests.portal_client import PortalClient
from mfa_harness.loadtests.profile import load_profile
from mfa_harness.loadtests.redirects import LoopWatch

# An excerpt, JSON-encoded as it goes into a history line, is never longer than this.
MAX_EXCERPT_JSON = 6 * (TEXT_CHARS + TITLE_CHARS + 300) + 200


def test_the_excerpt_is_the_title_and_the_visible_text_decoded() -> None:
    page = ("<!DOCTYPE html><html><head><title>Sign&nbsp;in &amp; verify</title>"
            "<style>body{color:red}</style><script>var s = '<p>not shown</p>';</script></head>"
            "<body><!-- <p>a comment</p> --><h1>Hello&#44;\n\n   world</h1>"
            "<p>It&rsquo;s &lt;here&gt;: caf&eacute;</p><svg><text>icon</text></svg>"
            "<noscript>enable js</noscript><p>2 &lt; 3</p></body></html>")
    ex = page_excerpt(200, "/signin?next=/x", page)
    assert ex == {"status": 200, "path": "/signin?next=/x", "title": "Sign in & verify",
                  "text": "Hello, world It’s <here>: café 2 < 3", "chars": len(page)}
    assert excerpt_line(ex) == "HTTP 200 /signin?next=/x, title 'Sign in & verify': 'Hello, world It’s <here>: café 2 < 3'"
    assert page_excerpt(404, "/x", "")["text"] == "" and "no title" in excerpt_line(page_excerpt(404, "/x", ""))


def test_the_excerpt_stays_small_on_huge_and_hostile_pages() -> None:
    rng = random.Random(7)
    junk = bytes(rng.getrandbits(8) for _ in range(3_000_000))
    pages = {
        "words": "<title>" + "T" * 10_000 + "</title><p>" + "word " * 1_000_000,
        "unclosed script": "<p>before</p><script>" + "x" * 3_000_000,
        "many scripts": "<script>" * 500_000,
        "tags": "<b>" * 1_000_000,
        "no closing bracket": "<a" * 1_500_000,
        "titles": "<title" * 500_000,
        "junk, replaced": junk.decode("utf-8", errors="replace"),
        "junk, surrogates": junk.decode("utf-8", errors="surrogateescape"),
        "junk, latin-1": junk.decode("latin-1"),
    }
    for name, page in pages.items():
        ex = page_excerpt(200, "/p" * 5_000, page)
        encoded = json.dumps(ex)                               # as the history line encodes it
        assert len(encoded) <= MAX_EXCERPT_JSON, (name, len(encoded))
        assert len(ex["text"]) <= TEXT_CHARS and len(ex["title"]) <= TITLE_CHARS and len(ex["path"]) <= 300, name
        assert ex["chars"] == len(page)
        # no control characters or lone surrogates survive (they would garble a terminal or a report)
        assert all(c in "\t\n" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F and not 0xD800 <= ord(c) <= 0xDFFF)
                   for c in ex["text"] + ex["title"]), name
        ex["text"].encode("utf-8")
    assert page_excerpt(200, "/", pages["unclosed script"])["text"] == "before"
    assert page_excerpt(200, "/", pages["words"])["title"].endswith("…")
    # only the first SCAN_CHARS characters are read: text beyond them never shows
    late = "<p>" + " " * SCAN_CHARS + "late words</p>"
    assert page_excerpt(200, "/", late)["text"] == ""


def test_the_client_keeps_an_excerpt_only_for_a_page_the_profile_cannot_read() -> None:
    huge = (b"<html><head><title>Maintenance &amp; more</title></head><body><h1>Back soon</h1><p>"
            + b"filler " * 800_000 + b"</p></body></html>")                 # 5.6 MB
    junk = os.urandom(2_000_000)
    known = b'<html><body data-page="partner-account"><p>Signed in</p></body></html>'
    with canned_pages({"/huge": (200, huge), "/junk": (200, junk), "/account": (200, known)}) as url:
        session = FastHttpSession(url, request_event=EventHook(), user=None, network_timeout=60.0,
                                  connection_timeout=30.0, max_retries=0)
        client = PortalClient(session, load_profile(), LoopWatch(window_s=60.0))
        page = client.get("/huge")
        assert page.page is None
        said = page.unclassified()
        assert said["excerpt"]["title"] == "Maintenance & more"
        assert said["excerpt"]["text"].startswith("Back soon filler filler")
        assert said["excerpt"]["chars"] == len(huge)                        # the whole page, counted not kept
        assert len(json.dumps(said)) <= MAX_EXCERPT_JSON
        bad = client.get("/junk")
        assert bad.page is None and bad.status == 200
        assert len(json.dumps(bad.unclassified())) <= MAX_EXCERPT_JSON
        ok = client.get("/account")
        assert ok.page == "account" and ok.unclassified() == {}             # a known page: no excerpt at all
        missing = client.get("/nowhere")
        assert missing.unclassified()["excerpt"]["status"] == 404
