"""Load generator cost against a portal that hashes passwords as the product does (context).

`end_to_end` measures the generator-cost goal with the portal's *cheap* password profile,
where a login costs the portal ~12 ms of CPU and the goal (Locust <= 0.35 of the portal) is
below what a bare FastHttpUser making the same requests would reach. This benchmark runs the
same Locust personas against the same stack with the portal's *default* Argon2id profile
(argon2-cffi's recommended cost, what `python -m mfa_harness.server` uses unless told otherwise) and
reports Locust CPU per completed MFA login against portal CPU per login, both measured in the
same rounds. Not part of the issue's suite (``python -m bench`` runs it only by name), so the
suite stays under 10 minutes: ``python -m bench production_cost``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.end_to_end import TIME_SCALE, Params, measure_stack_round
from bench.measure import Side, ratio_figure, result
from mfa_harness.scenarios.stack import LocalStack, StackConfig

NAME = "production_cost"
TITLE = "load generator cost with the portal's default Argon2 profile (context for end_to_end)"


# Fewer users than end_to_end: with Argon2 the portal signs in a handful of people per second.
SIZES = {"tiny": Params(users=4, seconds=4, rounds=1, partners=30),
         "full": Params(users=20, seconds=10, rounds=5, partners=60)}


def run(size: str, work: Path) -> dict[str, Any]:
    p = SIZES[size]
    started = time.monotonic()
    epoch = time.time()
    stack = LocalStack(StackConfig(out=work / "stack", epoch=epoch, time_scale=TIME_SCALE, seed=6,
                                   partners=p.partners, password_profile="default"))
    locust_ms: list[float] = []
    portal_ms: list[float] = []
    detail: list[dict[str, Any]] = []
    try:
        stack.start()
        for i in range(p.rounds):
            r = measure_stack_round(stack, p.users, p.seconds, work, f"stack-{i}", epoch)
            locust_ms.append(r.cpu["locust"] / r.in_window * 1e3)
            portal_ms.append(r.cpu["portal"] / r.in_window * 1e3)
            detail.append({"round": i, **r.detail})
    finally:
        stack.stop()
    figures = [ratio_figure("load generator cost, default Argon2 portal",
                            Side("Locust CPU per login", "ms", locust_ms),
                            Side("portal CPU per login", "ms", portal_ms), None,
                            note="context: end_to_end's goal (<= 0.35) is measured with the cheap profile")]
    return result(NAME, TITLE, size, figures, started,
                  params={"users": p.users, "seconds": p.seconds, "rounds": p.rounds, "partners": p.partners,
                          "time_scale": TIME_SCALE, "password_profile": "default"},
                  extra={"runs": detail})
