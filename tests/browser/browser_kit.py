"""What the browser tests share: a person's steps through the portal and the inbox page,
DOM checks (labels, loopback-only requests, shown waits) and numbered screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from mfa_harness.scenarios.pytest_plugin import MfaStack

CODE_SUBJECT = "Your Partner Portal verification code"


class Screenshots:
    """Numbered full-page screenshots of one test's steps, in `$MFA_ARTIFACTS/<test name>/`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def take(self, page: Page, step: str) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def expect_page(page: Page, name: str) -> None:
    """Wait until the page shown is the portal's (or inbox's) page `name` (`<body data-page>`)."""
    expect(page.locator("body")).to_have_attribute("data-page", name)


def not_loopback(urls: list[str]) -> list[str]:
    """Requests that went anywhere but 127.0.0.1 (inline `data:` URLs are local too)."""
    bad = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
            bad.append(url)
    return bad


def unlabelled_inputs(page: Page) -> list[str]:
    """Form fields a screen reader cannot name: no <label>, aria-label or aria-labelledby."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(e => e.type !== 'hidden')
        .filter(e => !(e.labels && Array.from(e.labels).some(l => l.textContent.trim()))
                     && !(e.getAttribute('aria-label') || '').trim()
                     && !(e.getAttribute('aria-labelledby') || '').trim())
        .map(e => e.outerHTML)""")


def unnamed_buttons(page: Page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('button, input[type=submit]'))
        .filter(e => !(e.textContent || e.value || e.getAttribute('aria-label') || '').trim())
        .map(e => e.outerHTML)""")


def seconds_shown(text: str) -> int | None:
    """The wait a text tells a person, in seconds ("28 s", "30 seconds", "1 min 5 s"), or None."""
    m = re.search(r"(?:(\d+)\s*min(?:ute)?s?\s*)?\b(\d+)\s*(?:s|secs?|seconds?)\b", text, re.IGNORECASE)
    if m is None:
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2))


class Person:
    """What a person does with the portal and the inbox page, step by step, with screenshots."""

    def __init__(self, stack: MfaStack, shots: Screenshots):
        self.stack = stack
        self.shots = shots

    def submit_partner_sign_in(self, page: Page, user: dict[str, Any]) -> None:
        """From the start page, pick the partner program and submit the sign-in form."""
        page.goto(self.stack.portal_url + "/")
        expect_page(page, "chooser")
        self.shots.take(page, "chooser")
        page.get_by_role("link", name="Partner / agency program").click()
        expect_page(page, "partner-login")
        page.get_by_label("Username").fill(user["username"])
        page.get_by_label("Password").fill(user["password"])
        self.shots.take(page, "partner-login-filled")
        page.get_by_role("button", name="Sign in").click()

    def sign_in_partner(self, page: Page, user: dict[str, Any]) -> str:
        """From the start page to the code page; returns the challenge reference the page shows."""
        self.submit_partner_sign_in(page, user)
        expect_page(page, "partner-verify")
        ref_el = page.locator("[data-ref]")
        expect(ref_el).to_be_visible()
        ref = ref_el.get_attribute("data-ref") or ""
        assert re.fullmatch(r"[A-Za-z0-9]{8}", ref), f"challenge reference on the verify page: {ref!r}"
        expect(ref_el).to_have_text(ref)
        self.shots.take(page, "verify-page")
        return ref

    def read_code_in_inbox(self, page: Page, user: dict[str, Any], ref: str,
                           messages_for_address: int) -> str:
        """Filter the inbox page by the notification address, wait until it lists
        `messages_for_address` messages (the page reloads itself when mail arrives), open the
        newest and read the big code; the email must quote `ref` and the user's name."""
        address = user["notification_email"]
        page.goto(self.stack.inbox_url + "/")
        expect_page(page, "inbox")
        page.locator("input[name=to]").fill(address)
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(messages_for_address)
        newest = rows.first
        expect(newest).to_contain_text(address, ignore_case=True)
        self.shots.take(page, "inbox-list")
        newest.get_by_role("link", name=CODE_SUBJECT).click()
        code_el = page.locator("#code")
        expect(code_el).to_be_visible()
        expect(code_el).to_have_text(re.compile(r"^\s*\d{6}\s*$"))
        body = page.locator("pre")
        expect(body).to_contain_text(f"Request reference: {ref}")
        expect(body).to_contain_text(f"Requested by: {user['username']}")
        self.shots.take(page, "inbox-message")
        return code_el.inner_text().strip()

    def enter_code(self, page: Page, code: str, step: str = "code-typed") -> None:
        page.bring_to_front()
        page.get_by_label("Verification code").fill(code)
        self.shots.take(page, step)
        page.get_by_role("button", name="Verify").click()


def page_problems(page: Page) -> list[str]:
    """What keeps a page from being plain accessible HTML, each prefixed with the page's path."""
    where = urlsplit(page.url).path + ("?" + urlsplit(page.url).query if urlsplit(page.url).query else "")
    problems = [f"{where}: field without a label: {html}" for html in unlabelled_inputs(page)]
    problems += [f"{where}: button without a name: {html}" for html in unnamed_buttons(page)]
    if not (page.locator("html").get_attribute("lang") or "").strip():
        problems.append(f"{where}: <html> has no lang")
    if not page.title().strip():
        problems.append(f"{where}: empty <title>")
    alerts = page.get_by_role("alert")
    for i in range(alerts.count()):
        alert = alerts.nth(i)
        if not alert.is_visible() or not alert.inner_text().strip():
            html = alert.evaluate("e => e.outerHTML")
            problems.append(f"{where}: an error (role=alert) is not visible: {html}")
    return problems
