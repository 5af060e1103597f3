"""The answer of one invariant: valid / invalid / unknown, violation count, smallest examples."""

from __future__ import annotations

from typing import Any

MAX_EXAMPLES = 5


class Result:
    """Collects violations and undecidable cases while an invariant walks its keys.

    `decidable` is False when the history lacks what a positive answer needs (black box): then
    the best answer without a violation is "unknown", never valid.

    `checked` counts the cases the invariant examined (codes, sessions, mails, flows...). Valid
    needs evidence: with zero cases the answer is "unknown", white box or black box.
    """

    def __init__(self, decidable: bool = True):
        self.decidable = decidable
        self.violations = 0
        self.undecided = 0
        self.checked = 0
        self.examples: list[list[dict[str, Any]]] = []
        self.notes: dict[str, Any] = {}

    def case(self, n: int = 1) -> None:
        """Count `n` cases examined (a violating case need not be counted again): the evidence."""
        self.checked += n

    def violation(self, *lines: dict[str, Any] | None) -> None:
        self.violations += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(_dedupe(lines))

    def undecided_case(self) -> None:
        """A case the history cannot settle either way (e.g. a client op we cannot pair)."""
        self.undecided += 1

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def as_dict(self) -> dict[str, Any]:
        if self.violations:
            valid: bool | str = False
        elif self.decidable and not self.undecided and self.checked:
            valid = True
        else:
            valid = "unknown"
        out: dict[str, Any] = {"valid": valid, "violations": self.violations,
                               "checked": max(self.checked, self.violations),
                               "examples": self.examples}
        if self.undecided:
            out["undecided"] = self.undecided
        out.update(self.notes)
        return out


def _dedupe(lines: tuple[dict[str, Any] | None, ...]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    out = []
    for line in lines:
        if line is not None and id(line) not in seen:
            seen.add(id(line))
            out.append(line)
    return out


def valid_label(valid: Any) -> str:
    """An answer's `valid` as a word: `valid`, `invalid`, or `unknown` (for anything not a bool)."""
    if valid is True:
        return "valid"
    return "invalid" if valid is False else "unknown"
