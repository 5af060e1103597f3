"""The persona registry (one list, read from the persona classes, importable without Locust) and
the one reading of a portal answer that every client step shares."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from loadtests_stack import REPO, Stack

from mfa_harness.loadtests import answers
from mfa_harness.loadtests.persona_base import REGISTERED, Persona, PersonaError
from mfa_harness.loadtests.persona_registry import (
    AFFILIATE_PERSONAS,
    NEEDS,
    PERSONA_CLASSES,
    PERSONA_NAMES,
    PERSONAS,
)
from mfa_harness.loadtests.portal_client import PortalResult

PURE_IMPORT = r"""
import json, sys
from mfa_harness.loadtests import persona_registry
import mfa_harness.scenarios.spec, mfa_harness.scenarios.schemas
print(json.dumps({"names": list(persona_registry.PERSONA_NAMES),
                  "loaded": sorted(m for m in ("gevent", "locust") if m in sys.modules)}))
"""


def test_the_persona_registry_and_the_scenario_parser_import_without_gevent_or_locust() -> None:
    res = subprocess.run([sys.executable, "-c", PURE_IMPORT], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [], out
    assert out["names"] == list(PERSONA_NAMES)


def test_the_registry_reads_names_and_metadata_from_the_persona_classes() -> None:
    assert PERSONA_NAMES == (
        "careful", "hasty", "reseller", "affiliate", "patient", "impatient", "spam-checker", "slow-typer",
        "typo-prone", "second-tab", "cookie-less", "resend-stormer", "code-guesser", "forgot-password",
        "direct-url", "double-submit", "resend-mixer", "replayer", "session-reuser", "protected-visitor",
        "two-browsers")
    for name, cls in PERSONA_CLASSES.items():
        info = PERSONAS[name]
        assert cls.name == info.name == name and REGISTERED[name] is cls
        assert info.description == (cls.__doc__ or "").strip().splitlines()[0] and info.description
        assert info.programs == cls.programs and info.kind in ("partner", "affiliate", "prober")
    # what target mode refuses up front, and which personas take affiliate accounts
    assert NEEDS == {"resend-stormer": ("resend",), "resend-mixer": ("resend",),
                     "affiliate": ("affiliate_login", "affiliate_dashboard"),
                     "forgot-password": ("forgot_password", "reset_password")}
    assert AFFILIATE_PERSONAS == {"affiliate"}
    assert [n for n, p in PERSONAS.items() if p.kind == "prober"] == [
        "resend-mixer", "replayer", "session-reuser", "protected-visitor", "two-browsers"]


def test_each_persona_gets_one_locust_user_class_of_the_same_name() -> None:
    from mfa_harness.loadtests import personas

    assert list(personas.PERSONAS) == list(PERSONA_NAMES)
    for name, user in personas.PERSONAS.items():
        cls = PERSONA_CLASSES[name]
        assert user.__name__ == cls.__name__ and user.persona == name and user.persona_class is cls
        assert user.programs == cls.programs and not user.abstract
        assert getattr(personas, cls.__name__) is user and cls.__name__ in personas.__all__


def test_a_persona_that_cannot_be_registered_is_refused_with_its_reason() -> None:
    before = dict(REGISTERED)
    with pytest.raises(PersonaError) as twice:
        type("Again", (Persona,), {"name": "careful", "__doc__": "A second careful."})
    assert twice.value.name == "careful" and "defined twice" in twice.value.problem
    with pytest.raises(PersonaError) as undocumented:
        type("Mute", (Persona,), {"name": "mute"})
    assert undocumented.value.name == "mute" and "docstring" in undocumented.value.problem
    with pytest.raises(PersonaError) as kind:
        type("Odd", (Persona,), {"name": "odd", "kind": "robot", "__doc__": "Odd."})
    assert "kind 'robot'" in kind.value.problem
    assert REGISTERED == before


def _res(page: str | None, status: int = 200, reason: str | None = None, error: str | None = None,
         looped: bool = False) -> PortalResult:
    return PortalResult(status=status, url="/x", text="", chain=["/x"], page=page, reason=reason, error=error,
                        looped=looped)


@pytest.mark.parametrize(("res", "kind", "throttled", "looped"), [
    (_res(None, status=0, error="ConnectionRefusedError: x"), answers.CONNECTION, False, False),
    (_res("login", looped=True), answers.LOGIN_PAGE, False, True),         # back at sign-in soon after a code
    (_res("login", status=429, reason="rate_limited"), answers.LOGIN_PAGE, True, False),
    (_res(None, status=302, looped=True), answers.LOOP, False, True),      # a redirect chain revisiting a URL
    (_res("cookies_blocked", status=400), answers.COOKIES_BLOCKED, False, False),
    (_res("verify", status=429), answers.CODE_PAGE, True, False),          # a refused resend: still the code page
    (_res("verify", status=400, reason="wrong"), answers.CODE_PAGE, False, False),
    (_res("account"), answers.SIGNED_IN, False, False),
    (_res("my_account"), answers.SIGNED_IN, False, False),
    (_res("affiliate_dashboard"), answers.SIGNED_IN, False, False),
    (_res("error", status=500, reason="generic_error"), answers.OTHER, False, False),
    (_res(None, status=0, reason="no_form"), answers.OTHER, False, False),
])
def test_one_reading_of_a_portal_answer(res: PortalResult, kind: str, throttled: bool, looped: bool) -> None:
    a = answers.read_answer(res)
    assert (a.kind, a.throttled, a.looped, a.reason) == (kind, throttled, looped, res.reason)


def test_a_distributed_run_spawns_the_probing_personas_on_its_workers(stack: Stack) -> None:
    """Workers know a user class only if the locustfile exposes it; the probers once were not."""
    run = stack.locust("--processes", "2", users=2, run_time=6, personas="protected-visitor=1,careful=1",
                       name="probers-workers", timeout=150.0)
    assert run.code == 0, run.log[-3000:]
    flows = {line["persona"] for line in run.history() if line["op"] == "flow"}
    assert flows == {"protected-visitor", "careful"}, run.log[-3000:]


def test_the_readme_names_every_persona() -> None:
    text = (REPO / "loadtests" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Personas"):text.index("### Adding a persona")]
    missing = [n for n in PERSONA_NAMES if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", section)]
    assert not missing, f"loadtests/README.md 'Personas' does not name {missing}"
