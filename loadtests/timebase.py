"""Scenario time for the load generator (docs/interfaces.md "Time").

Persona timings and thresholds speak scenario seconds; gevent sleeps and HTTP timeouts need
wall seconds. The conversion is the project's one class, `mfa_harness.timebase.Timebase`
(shared with the portal and the inbox); this name stays so the Locust modules import it
from their own package.
"""

from __future__ import annotations

from mfa_harness.timebase import Timebase

__all__ = ["Timebase"]
