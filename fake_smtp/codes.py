"""Verification-code extraction from message text.

The default finds the six digits after ``code is:`` / ``code:``; when that phrase is
absent it falls back to a six-digit number standing alone, but only when exactly one
distinct such number occurs (a wrong code is worse than none for a load client).
``--code-regex`` replaces both: group 1 if the pattern has a group, else the whole match.
"""

from __future__ import annotations

import re

PRIMARY = re.compile(r"\bcode(?:\s+is)?\s*:\s*(\d{6})(?!\d)", re.IGNORECASE)
LONE_SIX = re.compile(r"(?<![\w])(\d{6})(?![\w])")


class CodeExtractor:
    """Finds the verification code in a message's subject and text."""

    def __init__(self, pattern: str | None = None) -> None:
        self.custom = re.compile(pattern) if pattern else None

    def extract(self, text: str) -> str | None:
        """Return the code found in ``text``, or None."""
        if self.custom is not None:
            m = self.custom.search(text)
            if not m:
                return None
            return m.group(1) if self.custom.groups else m.group(0)
        m = PRIMARY.search(text)
        if m:
            return m.group(1)
        found = set(LONE_SIX.findall(text))
        if len(found) == 1:
            return found.pop()
        return None
