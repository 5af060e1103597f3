"""Issue 15: the load generator's cheap paths give exactly what the general code they skip gives.

Per request the client reads form fields, resolves redirect targets and writes history lines;
each has a fast path (tags the form reader ignores are stepped over, plain paths skip urllib,
a recorder's fixed fields are encoded once per flow). These tests hold each fast path to the
general answer on hand-picked awkward inputs and on generated ones.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from mfa_harness.loadtests.history import FileSink, History, Recorder
from mfa_harness.loadtests.pages import _FormParser, form_slices, parse_forms, read_tags
from mfa_harness.loadtests.redirects import path_only, resolve
from mfa_harness.loadtests.timebase import Timebase

BASE = "http://127.0.0.1:8080"


class _StockFormParser(_FormParser):
    """The form reader on the parser's own full path for every tag (what it was before issue 15)."""

    parse_starttag = HTMLParser.parse_starttag
    updatepos = HTMLParser.updatepos


def _forms(parser: HTMLParser, text: str) -> list:
    parser.feed(text)
    parser.close()
    return parser.forms  # type: ignore[attr-defined]


def _lowered_form_slices(text: str) -> list[str]:
    """`form_slices` before issue 15: `str.find` on a lower-cased copy of the page."""
    low = text.lower()
    if len(low) != len(text):
        return [text]
    out = []
    pos = low.find("<form")
    while pos >= 0:
        end = low.find("</form", pos + 5)
        if end < 0:
            out.append(text[pos:])
            break
        close = low.find(">", end)
        end = len(text) if close < 0 else close + 1
        out.append(text[pos:end])
        pos = low.find("<form", end)
    return out


def _stock_parse_forms(text: str) -> list:
    """`parse_forms(text)` as before issue 15: every form slice fed whole to the stock parser."""
    forms = []
    for chunk in _lowered_form_slices(text):
        forms += _forms(_StockFormParser(), chunk)
    return forms


AWKWARD_FORMS = [
    '<form action="/a"><p title="<input name=fake>"><input type=hidden name=k value="v&amp;w"></p></form>',
    '<FORM ACTION="/A"><P><LABEL FOR=x>X</LABEL><BR><INPUT TYPE=HIDDEN NAME=K VALUE=V><BUTTON>go</BUTTON></FORM>',
    '<form action=/a><!-- <input type=hidden name=c value=comment> --><input type=hidden name=k value=v></form>',
    '<form action=/a><script>var s = "<input type=hidden name=s value=script>";</script><input name=k></form>',
    '<form action=/a><style>p > input { x: "<input name=st>" }</style><select name=s><option>1</select></form>',
    '<form action=/a><textarea name=t><input type=hidden name=in value=textarea></textarea></form>',
    '<form action=/a><p data-x="a>b" class=\'<c>\'/><input type=hidden name=k value=1/><br/></form>',
    '<form action=/a><p\n  data-x="multi\nline"\n><input\n type="hidden"\n name="k"\n value="v"\n></form>',
    '<form action=/a><p <input type=hidden name=bogus value=1>><input type=image name=i value=j></form>',
    '<form action=/a><div><span><em><input type=hidden name=a value=1></em></span></div><p unclosed',
    '<form action=/a><title><input type=hidden name=t value=title></title><xmp><input name=x></xmp></form>',
    '<form><input type=submit name=go value=Go><button name=b value=c type=submit></button></form><form action=/b>',
    '<form action="/a"><script><input type="hidden" name="s" value="script"></script><input name="k"></form>',
    '<form action="/a"><style><input type="hidden" name="s" value="style"></style><input name="k"></form>',
    '<form action="/a"><textarea name="t"><input type="hidden" name="s" value="ta"></textarea></form>',
    '<form action="/a"><title><input type="hidden" name="s" value="title"></title></form>',
    '<form action="/a"><!-- <input type="hidden" name="c" value="comment"> --><input name="k"></form>',
]


def test_stepping_over_ignored_tags_reads_the_forms_the_full_parse_reads() -> None:
    for text in AWKWARD_FORMS:
        assert _forms(_FormParser(), text) == _forms(_StockFormParser(), text), text
        assert parse_forms(text) == _stock_parse_forms(text), text


def test_plain_markup_is_cut_to_the_tags_the_reader_acts_on_and_anything_else_is_parsed_whole() -> None:
    plain = '<form action="/a">\n<p><label for="x">X</label><br>\n<input type="hidden" name="k" value="v&amp;w"/>' \
            '<INPUT name="u" required><button type="submit">Go</button></p></form>'
    assert read_tags(plain) == '<form action="/a"><input type="hidden" name="k" value="v&amp;w"/>' \
                               '<INPUT name="u" required><button type="submit"></button></form>'
    for text in AWKWARD_FORMS + ['<form><p\va="x b="><input type=hidden name=k value=v></form>">',
                                 '<form><p a="1"\xa0b="2"><input name="u"></form>', "<form>a < b<input name=u>",
                                 '<form><p a=\'x\'><input name="u"></form>', '<form><p a=x><input name="u"></form>']:
        assert read_tags(text) == text, text               # not plain: the parser reads all of it


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "<p>", "</p>", "<label for=x>", "<br>", "<br/>", "<P CLASS='a>b'>", '<p title="<input name=q>">', "text ",
    "<form action=/a>", "<form method=post action='/b?x=1'>", "</form>", "<input type=hidden name=k value=v>",
    "<INPUT TYPE=HIDDEN NAME=K VALUE=&lt;v&gt;>", "<input name=u>", "<button type=submit name=b value=c>",
    "</button>", "<select name=s>", "<textarea name=t>", "</textarea>", "<script>", "</script>",
    "<!-- <input type=hidden name=c value=d> -->", "<p", ">", '"', "<", "&amp;", "<input type=image name=i>",
    '<p class="a">', '<input type="hidden" name="h" value="1">', '<p\va="x b=">', '<p a="1"\xa0b="2">', "=",
    '<input name="n" value="x=">', "'", " b=", '="', "/", "<br />", "<FORM ACTION='/a'>", "\x00", "\n",
]), max_size=30))
def test_generated_pages_read_the_same_forms_as_the_full_parse(parts: list[str]) -> None:
    text = "".join(parts)
    assert _forms(_FormParser(), text) == _forms(_StockFormParser(), text)
    assert parse_forms(text) == _stock_parse_forms(text)


def _urllib_resolve(current: str, location: str) -> str:
    """`resolve` before its fast path: urllib's join and split."""
    target = urljoin(current, location)
    parts, cur = urlsplit(target), urlsplit(current)
    if parts.netloc and cur.netloc and parts.netloc != cur.netloc:
        return target
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


AWKWARD_URLS = ["/partner/verify", "/p?", "/p?a?b", "/p?#f", "/p#f", "//evil.example/x", "/a/./b", "/a/../b",
                "/a/.", "/.hidden", "/a//b", "/a;p=1?q", "/a\tb", "/a\nb", "/ a", "/a?b c", "/%2e%2e/x", "/:x",
                "/a?x=/./y", "/", "//", "/?", "/é?ü=1"]


def test_plain_paths_resolve_as_urllib_resolves_them() -> None:
    for cur in (BASE + "/partner/login", BASE + "/a/b/", "/partner/login", ""):
        for loc in AWKWARD_URLS:
            assert resolve(cur, loc) == _urllib_resolve(cur, loc), (cur, loc)
    for url in AWKWARD_URLS:
        assert path_only(url) == (urlsplit(url).path or "/"), url


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="/ab.?#;:%=& \t\n\r\\é", max_size=16))
def test_generated_paths_resolve_as_urllib_resolves_them(tail: str) -> None:
    for loc in ("/" + tail, tail):
        assert resolve(BASE + "/partner/login", loc) == _urllib_resolve(BASE + "/partner/login", loc), loc
        assert path_only(loc) == (urlsplit(loc).path or "/"), loc


def test_a_recorders_lines_are_what_encoding_the_whole_line_gives(tmp_path: Path) -> None:
    """The fixed fields are encoded once per flow; every line still equals json.dumps of the whole dict,
    across a new flow, a changed user, no flow yet, non-ASCII text and odd numbers."""
    path = tmp_path / "h.jsonl"
    tb = Timebase(scale=100.0, epoch=1790000000.0)
    hist = History(tb, FileSink(path))
    rec = Recorder(hist, "w1-0", "careful", "zoë@x.test")
    expected = []

    def line(type_: str, op: str, value: dict | None, wall: float) -> None:
        rec.line(type_, op, value, wall=wall)
        expected.append(json.dumps({"src": "client", "wall": round(wall, 6), "st": round(tb.st(wall), 6),
                                    "type": type_, "proc": rec.proc, "flow": rec.flow, "persona": rec.persona,
                                    "user": rec.user, "op": op, "value": value or {}},
                                   separators=(",", ":"), default=str))

    line("info", "loop", {"chain": ["/a"]}, 1790000000.5)              # before any flow: "flow": null
    rec.new_flow()
    line("invoke", "login", {"path": "/partner/login"}, 1790000001.1234567)
    line("ok", "login", None, 1790000001.0000001)
    line("fail", "verify", {"n": float("nan"), "big": 2**70, "p": Path("/x")}, 1790000002)
    rec.user = "\u2028new\u00e9"
    line("invoke", "verify", {"code": "012345"}, 1790000003.25)
    rec.new_flow()
    line("ok", "flow", {"outcome": "ok"}, 1.0e16)
    line("ok", "flow", {}, 1790000004.000001)
    hist.sink.close()
    assert path.read_text(encoding="utf-8").splitlines() == expected


def test_a_file_sink_writes_every_line_in_order_by_each_flush_and_at_close(tmp_path: Path) -> None:
    """Lines are written in batches: every line taken is in the file, in order, once flushed or closed."""
    from mfa_harness.loadtests.history import FILE_BATCH_LINES

    path = tmp_path / "h.jsonl"
    sink = FileSink(path)
    lines = [f'{{"n":{i}}}' for i in range(2 * FILE_BATCH_LINES + 5)]
    for line in lines:
        sink.write(line)
    sink.flush()
    assert path.read_text(encoding="utf-8").splitlines() == lines
    sink.write('{"n":"last"}')
    sink.close()
    sink.write('{"n":"late"}')
    assert path.read_text(encoding="utf-8").splitlines() == [*lines, '{"n":"last"}']
    assert (sink.lines, sink.late) == (len(lines) + 1, 1)


def test_a_page_is_read_once_per_action_when_its_form_is_submitted_again() -> None:
    from mfa_harness.loadtests.portal_client import PortalResult

    page = PortalResult(200, "/partner/verify", '<form action="/partner/verify"><input type="hidden" name="_xsrf" '
                        'value="t"><input name="code"></form><form action="/partner/verify/resend"></form>', [])
    first = page.form_for("/partner/verify")
    assert first is not None and first.fields == {"_xsrf": "t"}
    assert page.form_for("/partner/verify") is first
    assert page.form_for("/partner/verify/resend") is not first


_TEXT_CHILD = """
import json, sys
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from mfa_harness.loadtests.response_text import response_json, response_text
session = FastHttpSession(sys.argv[1], request_event=Environment().events.request, user=None)
out = []
for path in sys.argv[2:]:
    ours, theirs = session.request("GET", path), session.request("GET", path)
    row = [response_text(ours), theirs.text, ours.encoding, theirs.encoding]
    if path == "/json":
        row += [response_json(ours), theirs.json()]
    out.append(row)
print(json.dumps(out))
"""


def test_a_response_text_is_what_locust_decodes_whatever_the_content_type() -> None:
    """The encoding looked up once per Content-Type value gives the string `.text` gives."""
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = "café ✓ Ω".encode()
    types = {"/utf8": "text/html; charset=UTF-8", "/latin": "text/html", "/quoted": "text/plain; charset='utf-8'",
             "/json": "application/json", "/none": "", "/bin": "application/octet-stream",
             "/cp": "text/html; charset=windows-1252"}

    class Answers(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            data = b'{"k": "\\u00e9", "n": 1}' if self.path == "/json" else body
            self.send_response(200)
            if types[self.path]:
                self.send_header("Content-Type", types[self.path])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run([sys.executable, "-c", _TEXT_CHILD, f"http://127.0.0.1:{server.server_address[1]}",
                               *types], capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    for path, row in zip(types, rows, strict=True):
        assert row[0] == row[1] and row[2] == row[3], (path, row)
        if path == "/json":
            assert row[4] == row[5] == {"k": "é", "n": 1}
    assert rows[0][0] == "café ✓ Ω" and rows[1][0] != rows[0][0]      # the charset is honoured, or Latin-1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<form>", "<FORM action=/a>", "<Form", "</form>", "</FORM >", "</form", ">", "<",
                                 "x", "K", "İ", "<input name=k>", "<p>", "form", "/form"]), max_size=20))
def test_form_slices_are_found_as_the_lower_cased_search_found_them(parts: list[str]) -> None:
    text = "".join(parts)
    assert form_slices(text) == _lowered_form_slices(text)
    assert parse_forms(text) == _stock_parse_forms(text)
