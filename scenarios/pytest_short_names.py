"""The plugin's fixtures under their short names (`portal`, `inbox`, `clock`), for suites written
before the names became `mfa_…`. Enabled by `mfa_short_names = true` in the ini file, or with
`pytest_plugins = ["mfa_harness.scenarios.pytest_short_names"]` in a conftest."""

from __future__ import annotations

import pytest

from .browser import Portal
from .pytest_plugin import MfaClock, MfaInbox


@pytest.fixture
def portal(mfa_portal: Portal) -> Portal:
    """Alias of `mfa_portal`."""
    return mfa_portal


@pytest.fixture
def inbox(mfa_inbox: MfaInbox) -> MfaInbox:
    """Alias of `mfa_inbox`."""
    return mfa_inbox


@pytest.fixture
def clock(mfa_clock: MfaClock) -> MfaClock:
    """Alias of `mfa_clock`."""
    return mfa_clock
