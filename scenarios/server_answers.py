"""How often the portal answered with a server error (5xx) or a page the profile cannot classify.

Counted from the client history (every portal step records the status and the page it reached
when it fails). Such answers are not checked by any invariant, so a run full of them proves
little: above `DEFAULT_MAX_ERROR_SHARE` of the portal steps (option `--max-error-share`) the run
cannot pass. Connection errors and timeouts (`info`) are counted apart: their outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DEFAULT_MAX_ERROR_SHARE = 0.05
# Client operations that talk to the inbox or only observe: not portal steps.
NOT_PORTAL = frozenset({"read_code", "loop", "flow"})
MAX_EXAMPLES = 3


def server_answers(history: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Portal steps, 5xx answers, unclassified pages and unanswered steps, with a few examples."""
    steps = server_errors = unclassified = no_answer = 0
    examples: list[dict[str, Any]] = []
    for line in history:
        if line.get("src") != "client" or line.get("op") in NOT_PORTAL or line.get("type") not in ("ok", "fail", "info"):
            continue
        steps += 1
        value = line.get("value") if isinstance(line.get("value"), dict) else {}
        status = value.get("status")
        if line["type"] == "info":
            no_answer += 1
            continue
        bad = None
        if isinstance(status, int) and status >= 500:
            server_errors += 1
            bad = "5xx"
        elif line["type"] == "fail" and "page" in value and value["page"] is None:
            unclassified += 1
            bad = "unclassified"
        if bad and len(examples) < MAX_EXAMPLES:
            examples.append({"kind": bad, "op": line.get("op"), "st": line.get("st"), "value": value})
    share = (server_errors + unclassified) / steps if steps else 0.0
    return {"steps": steps, "server_errors": server_errors, "unclassified": unclassified,
            "no_answer": no_answer, "share": round(share, 4), "examples": examples}


def error_share_problem(answers: dict[str, Any], max_share: float) -> str | None:
    """The run problem when too many portal steps were 5xx or unclassified, else None."""
    if answers["share"] <= max_share:
        return None
    return (f"{answers['server_errors']} server error(s) (5xx) and {answers['unclassified']} unclassified page(s) "
            f"in {answers['steps']} portal steps: {answers['share']:.1%} > the allowed {max_share:.1%} "
            f"(--max-error-share)")
