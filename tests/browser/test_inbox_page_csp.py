"""The inbox under its Content-Security-Policy, in a real browser (issue 13, item 7): the page's
own live-reload script still runs (a new message appears without a manual reload) and nothing
is refused on it, while a script inside a mail's HTML never runs, shown through /view."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

from playwright.sync_api import expect

from mfa_harness.harness_http import InboxApi


def _send(inbox_url: str, to: str, subject: str, html: str | None = None) -> None:
    smtp = InboxApi(inbox_url).info()["SMTP"]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "portal@example.com", to, subject
    msg.set_content("Your verification code is: 482913\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    with smtplib.SMTP(smtp["Host"], smtp["Port"], timeout=30) as s:
        s.send_message(msg)


def test_inbox_page_live_script_runs_under_its_csp_and_mail_scripts_do_not(mfa_stack, browsing):
    page = browsing.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    to = "csp-live@example.com"
    with page.expect_request(lambda r: "/api/v1/wait" in r.url):  # the page's script opened its long-poll
        page.goto(f"{mfa_stack.inbox_url}/?to={to}")
    expect(page.locator("table tbody tr")).to_have_count(0)
    _send(mfa_stack.inbox_url, to, "live one")
    expect(page.locator("table tbody tr")).to_have_count(1)  # the page reloaded itself
    expect(page.locator("table tbody tr").first).to_contain_text("live one")
    assert [c for c in console if "Content Security Policy" in c] == []

    _send(mfa_stack.inbox_url, to, "with script",
          html="<p id=greeting>hello</p><script>document.title = 'ran'</script>"
               "<img src=x onerror=\"document.title='ran'\">")
    view = browsing.new_page()
    view_console: list[str] = []
    view.on("console", lambda m: view_console.append(m.text))
    view.goto(f"{mfa_stack.inbox_url}/view/latest.html")
    expect(view.locator("#greeting")).to_have_text("hello")  # the mail is shown...
    assert view.title() != "ran"  # ...and its scripts never ran
    assert any(re.search("Content Security Policy|sandbox", c) for c in view_console), view_console
