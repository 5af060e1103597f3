"""Reading portal pages cheaply: markers by substring search, forms with a real HTML parser.

The load generator must stay far cheaper than the portal it drives, so a page is only
classified by looking for one attribute (`data-page="…"`) with `str.find`; the full
`html.parser` pass runs only when a form has to be filled in (the `_xsrf` token, hidden
fields, the action URL), over that form's slice of the page, and (issue 15) over only the
tags the form reader acts on when the slice is plain markup (`read_tags`); the parser still
reads every attribute of those tags, and anything less plain is parsed whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import parser as _html_parser
from html.parser import HTMLParser

READ_TAGS = frozenset({"form", "input", "button", "select", "textarea"})    # what _FormParser acts on
# Elements whose content the parser reads as raw text (some Python versions add to 3.11's pair):
# their start tags always take the parser's full path, so its mode switch happens as it would.
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
                       "noscript", "plaintext"})
_TAG_NAME = getattr(_html_parser, "tagfind_tolerant", None)     # the parser's own reading of a tag name


def marker_value(text: str, attr: str) -> str | None:
    """The value of the first `attr="value"` in `text`, or None (no regex, no parse)."""
    if not attr:
        return None
    needle = attr + '="'
    start = text.find(needle)
    if start < 0:
        return None
    start += len(needle)
    end = text.find('"', start)
    return text[start:end] if end >= 0 else None


@dataclass
class Form:
    """One `<form>`: where it posts and the fields a browser would send unchanged."""

    action: str
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)   # every named input, in order
    buttons: list[tuple[str, str]] = field(default_factory=list)   # submit buttons: (name, value)
    has_action: bool = True             # False: no action attribute (posts to the page's own URL)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        # Text between tags is never read here, so it is not unescaped (a fifth of the parse);
        # attribute values, the hidden fields' values included, are unescaped either way.
        super().__init__(convert_charrefs=False)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def parse_starttag(self, i: int) -> int:
        """A start tag the reader ignores (`p`, `label`, `br`, …: most of a form's tags) is stepped
        over where the parser itself says it ends, without parsing and unescaping its attributes,
        which nothing reads (about a third of the parse, profiled). Every other tag, and any tag
        when this Python's parser lacks the name pattern, takes the parser's own full path."""
        if _TAG_NAME is not None:
            m = _TAG_NAME.match(self.rawdata, i + 1)
            if m is not None:
                tag = m.group(1).lower()
                if tag not in READ_TAGS and tag not in _RAW_TEXT and tag not in self.CDATA_CONTENT_ELEMENTS:
                    end: int = self.check_for_whole_start_tag(i)
                    return end
        return super().parse_starttag(i)  # type: ignore[misc]

    def updatepos(self, i: int, j: int) -> int:
        """Position bookkeeping skipped: the parser counts the newlines of every token so that
        `getpos()` can name a line, which nothing here asks (a tenth of the parse)."""
        return j

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._current = Form(action=a.get("action", ""), method=a.get("method", "get").lower(),
                                 has_action="action" in a)
            self.forms.append(self._current)
            return
        if self._current is None:
            return
        kind = a.get("type", "submit" if tag == "button" else "text").lower()
        if tag in ("input", "button") and kind in ("submit", "image"):
            self._current.buttons.append((a.get("name", ""), a.get("value", "")))
        if tag in ("input", "textarea", "select", "button") and a.get("name"):
            name = a["name"]
            self._current.inputs.append(name)
            if tag == "input" and a.get("type", "text").lower() == "hidden":
                self._current.fields[name] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


_FORM_OPEN = re.compile("<form", re.IGNORECASE | re.ASCII)
_FORM_CLOSE = re.compile("</form", re.IGNORECASE | re.ASCII)


def form_slices(text: str) -> list[str]:
    """The `<form …>…</form>` stretches of a page, found by a case-insensitive search (ASCII case,
    the only one those words have; no lower-cased copy of the page).

    An unclosed form runs to the end of the page. Only these stretches go to the parser: the
    rest of the page (header, styles, scripts, prose) holds no form field.
    """
    if "\u0130" in text:     # "İ", the one character whose lower case is longer: parsed whole, as before
        return [text]
    out = []
    start = _FORM_OPEN.search(text)
    while start is not None:
        pos = start.start()
        close_tag = _FORM_CLOSE.search(text, pos + 5)
        if close_tag is None:
            out.append(text[pos:])
            break
        close = text.find(">", close_tag.start())
        end = len(text) if close < 0 else close + 1
        out.append(text[pos:end])
        start = _FORM_OPEN.search(text, end)
    return out


# Markup any HTML tokenizer splits the same way: text without `<`, and tags whose names and
# attribute names hold no quote, `=`, `<` or odd space, separated by the tokenizer's own spaces,
# each value double-quoted and free of `"`, `<` and `>`. In such markup every tag ends at its
# first `>`. Possessive loops: a chunk that does not fit fails in linear time.
_NAME = r"[^\s/>\"'=<\x00]"
_SPACE = r"[ \t\n\r\f]"
_PLAIN_TAG = (rf"<(?>[a-zA-Z]{_NAME}*+(?:{_SPACE}++{_NAME}++(?:=\"[^\"<>]*+\")?+)*+{_SPACE}*+/?"
              rf"|/[a-zA-Z]{_NAME}*+{_SPACE}*+)>")
_PLAIN_MARKUP = re.compile(rf"(?:[^<]++|{_PLAIN_TAG})*+")
_RAW_TEXT_OPEN = re.compile("<(?:" + "|".join(sorted(_RAW_TEXT)) + ")", re.IGNORECASE)
_READ_TAG = re.compile(r"</?(?:form|input|button|select|textarea)[^>]*>", re.IGNORECASE)


def read_tags(chunk: str) -> str:
    """The tags of `chunk` the form reader acts on, in order, when the chunk is plain markup (above);
    else the chunk itself. The parser then reads those few tags instead of every `<p>`, `<label>`
    and text run between them (about two thirds of a form's parse): in plain markup, without raw
    text elements (`<script>`, `<textarea>`, …) or comments, a dropped tag or text run cannot change
    how the parser reads the rest, and what the reader keeps comes only from the tags it is fed."""
    if _RAW_TEXT_OPEN.search(chunk) is not None or _PLAIN_MARKUP.fullmatch(chunk) is None:
        return chunk
    return "".join(_READ_TAG.findall(chunk))


def _names_action(open_tag: str, path: str) -> bool:
    """Whether a form's opening tag holds `path` as a whole attribute value (optionally with a query):
    `action="/partner/verify"` names /partner/verify, `action="/partner/verify/resend"` does not."""
    start = open_tag.find(path)
    while start >= 0:
        end = start + len(path)
        before = open_tag[start - 1] if start else "<"
        after = open_tag[end] if end < len(open_tag) else ">"
        if before in "\"'=" and after in "\"'? \t\n\r\f>":
            return True
        start = open_tag.find(path, end)
    return False


def parse_forms(text: str, action: str | None = None) -> list[Form]:
    """All forms of an HTML page, with their hidden fields (html.parser, not a regex).

    The parser reads only the form slices of the page (`form_slices`), which is what a full
    pass would have collected fields from. With `action`, only the slices whose opening tag
    names that path (query ignored) are parsed, or all of them when none does: filling in one
    form of a page with two (verify and resend) then costs one form's parse. The parser still
    decides what each form's action is; `form_for` falls back to every form when the guess missed.
    """
    slices = form_slices(text)
    if action is not None:
        wanted = action.split("?", 1)[0]
        picked = [s for s in slices if _names_action(s[:s.find(">")], wanted)]
        if picked:
            slices = picked
    parser = _FormParser()
    for chunk in slices:
        parser.feed(read_tags(chunk))
        parser.close()
        parser.reset()
        parser._current = None
    return parser.forms


def find_form(forms: list[Form], action: str | None = None, field_name: str | None = None,
              button: str | None = None, strict: bool = False) -> Form | None:
    """The first form that matches every criterion given (`strict`, or with `action` "" or a
    `button`), else (legacy) the first by `action` or by field.

    `action` "" means a form posting to the page's own URL (empty or missing action attribute);
    otherwise a path match, query ignored. `field_name`: a named input the form holds (hidden
    ones too). `button`: the name or value of one of its submit buttons.
    """
    if strict or action == "" or button is not None:
        for form in forms:
            if action == "" and form.action.strip() not in ("", "#", "?") and form.has_action:
                continue
            if action and form.action.split("?", 1)[0] != action.split("?", 1)[0]:
                continue
            if field_name is not None and field_name not in form.inputs:
                continue
            if button is not None and not any(button in b for b in form.buttons):
                continue
            return form
        return None
    if action is not None and field_name is not None:
        wanted = action.split("?", 1)[0]
        both = [f for f in forms if f.action.split("?", 1)[0] == wanted and field_name in f.inputs]
        if both:
            return both[0]
    if action is not None:
        wanted = action.split("?", 1)[0]
        for form in forms:
            if form.action.split("?", 1)[0] == wanted:
                return form
    if field_name is not None:
        for form in forms:
            if field_name in form.inputs:
                return form
    return None
