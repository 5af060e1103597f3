"""How often the portal answered with a server error (5xx) or a page the profile cannot classify.

Counted from the client history (every portal step records the status and the page it reached
when it fails). Such answers are not checked by any invariant, so a run full of them proves
little: above `DEFAULT_MAX_ERROR_SHARE` of the portal steps (option `--max-error-share`) the run
cannot pass. Connection errors and timeouts (`info`) are counted apart: their outcome is unknown.
An unclassified page's failing step carries a bounded excerpt of it (loadtests/page_excerpt.py);
a few different ones are kept as `unclassified_examples`, so the user sees what the portal said
and can fix the profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mfa_harness.loadtests.page_excerpt import excerpt_line

DEFAULT_MAX_ERROR_SHARE = 0.05
# Client operations that talk to the inbox or only observe: not portal steps.
NOT_PORTAL = frozenset({"read_code", "loop", "flow"})
MAX_EXAMPLES = 3


def server_answers(history: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Portal steps, 5xx answers, unclassified pages and unanswered steps, with a few examples."""
    steps = server_errors = unclassified = no_answer = 0
    examples: list[dict[str, Any]] = []
    pages: dict[tuple[Any, ...], dict[str, Any]] = {}       # distinct unclassified answers, first seen
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
            _keep_unclassified(pages, line, value)
        if bad and len(examples) < MAX_EXAMPLES:
            examples.append({"kind": bad, "op": line.get("op"), "st": line.get("st"), "value": value})
    share = (server_errors + unclassified) / steps if steps else 0.0
    return {"steps": steps, "server_errors": server_errors, "unclassified": unclassified,
            "no_answer": no_answer, "share": round(share, 4), "examples": examples,
            "unclassified_examples": list(pages.values())}


def _keep_unclassified(pages: dict[tuple[Any, ...], dict[str, Any]], line: dict[str, Any],
                       value: dict[str, Any]) -> None:
    """Keep the first of each different unclassified answer (by status, path and title), a few at most."""
    if len(pages) >= MAX_EXAMPLES:
        return
    ex = value.get("excerpt") if isinstance(value.get("excerpt"), dict) else None
    chain = value.get("chain") if isinstance(value.get("chain"), list) else []
    path = (ex or {}).get("path") or value.get("landed") or (chain[-1] if chain else None)
    key = (value.get("status"), path, (ex or {}).get("title"), value.get("problem"))
    if key not in pages:
        pages[key] = {"op": line.get("op"), "st": line.get("st"), "status": value.get("status"), "path": path,
                      **({"problem": value["problem"]} if value.get("problem") else {}),
                      "excerpt": ex}


def unclassified_text(answers: dict[str, Any]) -> str:
    """unclassified.txt: the count and each kept example, as people read them."""
    out = [f"{answers.get('unclassified', 0)} unclassified answer(s) in {answers.get('steps', 0)} portal steps: "
           "pages the target profile's [pages] markers do not recognise. Examples (first of each):", ""]
    for ex in answers.get("unclassified_examples") or []:
        out.append(f"- step {ex.get('op')} at scenario second {ex.get('st')}: " + example_line(ex))
    return "\n".join(out) + "\n"


def example_line(ex: dict[str, Any]) -> str:
    """One unclassified example as one line (an older history's example has no excerpt)."""
    if ex.get("excerpt"):
        return excerpt_line(ex["excerpt"])
    return ex.get("problem") or f"HTTP {ex.get('status')} {ex.get('path')} (no excerpt recorded)"


def error_share_problem(answers: dict[str, Any], max_share: float) -> str | None:
    """The run problem when too many portal steps were 5xx or unclassified, else None."""
    if answers["share"] <= max_share:
        return None
    return (f"{answers['server_errors']} server error(s) (5xx) and {answers['unclassified']} unclassified page(s) "
            f"in {answers['steps']} portal steps: {answers['share']:.1%} > the allowed {max_share:.1%} "
            f"(--max-error-share)")
