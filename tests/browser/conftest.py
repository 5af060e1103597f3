"""Real-browser tests: Playwright for Python driving the system Chromium (Debian's `chromium`).

No browser is ever downloaded: the executable is `$MFA_CHROMIUM` (default /usr/bin/chromium),
installed by `.ci/install-browser`. Each test gets the plugin's `mfa_stack` (real portal and inbox
processes on loopback) and a fresh browser context; screenshots of every significant step go to
`$MFA_ARTIFACTS/<test>/` (default `test-artifacts/browser/`), plus one of every open page when a
test fails.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as exc:  # the `browser` tox env installs it
    raise ImportError("Playwright for Python is not installed: pip install playwright "
                      "(never `playwright install`: these tests drive the system Chromium)") from exc

from browser_kit import Person, Screenshots

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request

    from mfa_harness.scenarios.pytest_plugin import MfaStack

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000  # generous: a shared 2-core machine under load

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def _failed(item: pytest.Item) -> bool:
    return any(r.failed for r in item.stash.get(_REPORTS, {}).values())


def chromium_executable() -> str:
    """The Chromium to drive; a missing browser is a setup error with the fix in the message."""
    path = os.environ.get("MFA_CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"no Chromium executable at {path} (env MFA_CHROMIUM, default {DEFAULT_CHROMIUM}): "
                    "run .ci/install-browser, which installs Debian's 'chromium' package", pytrace=False)
    return path


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS,
                                                timeout=60_000)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    root = Path(os.environ.get("MFA_ARTIFACTS") or "test-artifacts/browser")
    folder = root / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    for old in folder.glob("*.png"):
        old.unlink()
    return Screenshots(folder)


@dataclass
class Browsing:
    """A browser context and every request its pages made (to check that nothing left loopback)."""

    context: BrowserContext
    requests: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        return self.context.new_page()


def _record(requests: list[str]):
    def on_request(req: Request) -> None:
        requests.append(req.url)
    return on_request


def _screenshot_on_failure(request: pytest.FixtureRequest, context: BrowserContext,
                           shots: Screenshots) -> None:
    if not _failed(request.node):
        return
    for i, page in enumerate(context.pages):
        try:
            shots.take(page, f"failed-page-{i}")
        except Exception as exc:  # a crashed or closed page must not hide the test's own failure
            print(f"no failure screenshot of page {i}: {exc}")


@pytest.fixture
def browsing(request: pytest.FixtureRequest, chromium: Browser, shots: Screenshots) -> Iterator[Browsing]:
    context = chromium.new_context(viewport={"width": 1024, "height": 768}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    b = Browsing(context)
    context.on("request", _record(b.requests))
    try:
        yield b
    finally:
        _screenshot_on_failure(request, context, shots)
        context.close()


@pytest.fixture
def cookies_blocked_browsing(request: pytest.FixtureRequest, playwright_driver: Playwright, tmp_path: Path,
                             shots: Screenshots) -> Iterator[Browsing]:
    """A Chromium whose own settings block all cookies (as a person can set it), in a fresh profile."""
    profile = tmp_path / "chromium-profile"
    (profile / "Default").mkdir(parents=True)
    prefs = {"profile": {"default_content_setting_values": {"cookies": 2}}}  # 2 = block
    (profile / "Default" / "Preferences").write_text(json.dumps(prefs))
    context = playwright_driver.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_executable(), args=CHROMIUM_ARGS, timeout=60_000,
        viewport={"width": 1024, "height": 768}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    b = Browsing(context)
    context.on("request", _record(b.requests))
    try:
        yield b
    finally:
        _screenshot_on_failure(request, context, shots)
        context.close()


@pytest.fixture
def person(mfa_stack: MfaStack, shots: Screenshots) -> Person:
    return Person(mfa_stack, shots)
