"""Locust entry point of the mfa-harness: `locust -f loadtests/locustfile.py --host PORTAL --inbox-url INBOX`.

Thin on purpose: the personas (user classes) and the event wiring live in the package.
Harness options: see `loadtests/README.md` ("Options"; each also reads LOCUST_<NAME> and locust.conf).
"""

from mfa_harness.loadtests import runtime, webui
from mfa_harness.loadtests.personas import *  # noqa: F403  (Locust picks up the user classes from this module)

runtime.register()
webui.register()      # the web UI's "MFA" tab (after the runtime: it taps the harness's history)
