"""Test kit for the third-party sites: start them with a real inbox, fill their forms like a browser.

The sites' pages are the libraries' stock templates, so the tests read them the way a browser
does: find a form (by a field it holds), keep every hidden input (CSRF token, wizard step),
take radio choices and submit buttons by value, and post to the form's action resolved against
the page's URL (an empty action posts to the page itself). The facts this needs are the ones
tests/targets/README.md lists for the harness's profiles.
"""

from __future__ import annotations

import html
import importlib
import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from mfa_harness.scenarios.stack import Child, start_child

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60          # generous: a noisy 2-core machine


def need_library(module: str) -> None:
    """Skip a module whose library is not installed (a plain `pytest tests`), except in the tox env
    `targets`, which sets MFA_TARGETS_REQUIRED=1: there a missing library fails, never skips."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("MFA_TARGETS_REQUIRED"):
            raise
        pytest.skip(f"{module} not installed ({exc}); `tox -e targets` installs it", allow_module_level=True)


@dataclass
class Form:
    """One <form>: where it posts, its fields with their default values, its choices and buttons."""

    action: str | None
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)   # (name, value) of named submits


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._open = Form(action=a.get("action") if "action" in a else None,
                              method=(a.get("method") or "get").lower())
            self.forms.append(self._open)
            return
        form = self._open
        if form is None or not a.get("name"):
            return
        name, kind = a["name"], a.get("type", "text").lower()
        if tag == "button" or (tag == "input" and kind == "submit"):
            form.buttons.append((name, a.get("value", "")))
        elif tag == "input" and kind == "radio":
            form.radios.setdefault(name, []).append(a.get("value", "on"))
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        elif tag == "input" and kind == "checkbox":
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        elif tag in ("input", "textarea", "select"):
            form.fields.setdefault(name, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_of(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


def text_of(page: str) -> str:
    """The page's visible text, entities decoded and whitespace folded (what the markers match)."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


class Browser:
    """A requests session that submits a page's forms as a browser would."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        r = self.http.get(urljoin(self.base, path), timeout=WAIT_S)
        assert r.status_code < 500, (path, r.status_code, r.text[-2000:])
        return r

    def submit(self, page: requests.Response, has_field: str, values: dict[str, str],
               button: tuple[str, str] | None = None) -> requests.Response:
        """Post the form on `page` that contains `has_field`, with `values` over its defaults."""
        matching = [f for f in forms_of(page.text) if has_field in f.fields or has_field in f.radios]
        assert len(matching) == 1, f"{len(matching)} forms with {has_field!r} on {page.url}"
        form = matching[0]
        data = {**form.fields, **values}
        if button is not None:
            assert button in form.buttons, (button, form.buttons)
            data[button[0]] = button[1]
        target = urljoin(page.url, form.action or "")     # "" or no action: the page's own URL
        r = self.http.post(target, data=data, timeout=WAIT_S)
        assert r.status_code < 500, (target, r.status_code, r.text[-2000:])
        return r


class Profile:
    """A draft target profile read as plain TOML (loadtests/profiles/NAME.toml): the tests check
    its paths, fields, page and reason substrings and mail regexes against the live site, the way
    the harness reads them (first matching substring of the raw HTML wins, in file order)."""

    def __init__(self, name: str) -> None:
        self.data = tomllib.loads((ROOT / "loadtests" / "profiles" / f"{name}.toml").read_text(encoding="utf-8"))
        self.paths: dict[str, str] = self.data["paths"]
        self.fields: dict[str, str] = self.data["fields"]

    def _first(self, section: str, page: str) -> str | None:
        return next((name for name, needles in self.data[section]["contains"].items()
                     if any(n in page for n in (needles if isinstance(needles, list) else [needles]))), None)

    def page(self, response: requests.Response) -> str | None:
        return self._first("pages", response.text)

    def reason(self, response: requests.Response) -> str | None:
        return self._first("reasons", response.text)

    def mail_regex(self, key: str) -> re.Pattern[str]:
        return re.compile(self.data["mail"][key])

    def code_in(self, text: str) -> str | None:
        m = self.mail_regex("code_regex").search(text)
        return m.group(1) if m else None


class Inbox:
    """The fake_smtp inbox's documented API: the newest Seq, then a server-side wait per mail."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.url = child.ready["url"]
        self.smtp_port = int(child.ready["smtp_port"])

    def seq(self) -> int:
        return int(requests.get(self.url + "/api/v1/info", timeout=WAIT_S).json()["Seq"])

    def wait(self, to: str, after: int, query: str = "", timeout: float = WAIT_S) -> dict[str, Any] | None:
        """The first mail to `to` after Seq `after` (None when none came within `timeout` s)."""
        q = " ".join(x for x in (f"to:{to}", query) if x)
        r = requests.get(self.url + "/api/v1/wait", params={"query": q, "after": after, "timeout": timeout},
                         timeout=timeout + 30)
        if r.status_code == 204:
            return None
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def text(self, summary: dict[str, Any]) -> str:
        r = requests.get(f"{self.url}/api/v1/message/{summary['ID']}", timeout=WAIT_S)
        assert r.status_code == 200, r.text
        return r.json()["Text"]


def start_inbox(out: Path) -> Child:
    return start_child("inbox", [sys.executable, "-m", "mfa_harness.fake_smtp", "--smtp-port", "0", "--http-port", "0"],
                       out / "inbox.log")


def start_site(module: str, out: Path, inbox: Inbox, db: Path, *extra: str) -> tuple[Child, list[dict[str, Any]]]:
    """`python -m tests.targets.<module>` in the repository root; its accounts file, read back.

    Tests pass `--password-hashing fast`: the stock hashers cost about a second a login on a busy
    2-core machine, and password hashing is not what these tests are about.
    """
    accounts = out / "accounts.json"
    argv = [sys.executable, "-m", f"tests.targets.{module}", "--port", "0", "--smtp-port", str(inbox.smtp_port),
            "--db", str(db), "--accounts-out", str(accounts), "--password-hashing", "fast", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    child = start_child(module, argv, out / "site.log", timeout=120, env=env)
    return child, json.loads(accounts.read_text(encoding="utf-8"))

