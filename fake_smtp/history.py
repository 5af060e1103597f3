"""The inbox's delivery history (contract: "Inbox deliveries"), as JSON lines.

Lines are serialised once when recorded and kept in a bounded deque (oldest dropped
first), so ``GET /api/v1/deliveries?after=N`` is a bisect plus a join; with
``--history-file`` every line is also appended to a file for the run's merged history.
"""

from __future__ import annotations

import bisect
import json
import json.encoder
from collections import deque
from collections.abc import Callable
from typing import IO, Any

from mfa_harness.timebase import Timebase


def c_encoder(item_separator: str = ",", key_separator: str = ":") -> Callable[[Any], str]:
    """``json.dumps(obj, ensure_ascii=False, separators=...)`` with the C encoder built once:
    ``json.dumps`` builds a ``JSONEncoder`` and ``encode`` rebuilds the C encoder (and its
    closures) per call, a fifth of the cost of a short line. No circular-reference check
    (what is encoded here never refers to itself). Falls back when the C module is missing
    or gives other bytes."""
    slow = json.JSONEncoder(ensure_ascii=False, separators=(item_separator, key_separator))
    make, string = json.encoder.c_make_encoder, json.encoder.c_encode_basestring  # type: ignore[attr-defined]
    if make is None or string is None:
        return slow.encode
    it = make(None, slow.default, string, None, key_separator, item_separator, False, False, True)

    def encode(obj: Any) -> str:
        return "".join(it(obj, 0))

    sample = {"a": [1, 2.5, None, True], "é": "x\n\u2028", "n": {"k": -0.0}, "f": 1e300, "big": 2**70}
    return encode if encode(sample) == slow.encode(sample) else slow.encode


encode_line = c_encoder()


class DeliveryLog:
    """Append-only list of delivery events with strictly increasing ``seq_event``.

    At most ``max_lines`` stay in memory (0 = no bound); the file, if any, keeps all.
    """

    def __init__(self, clock: Timebase, max_lines: int = 500_000, file: IO[str] | None = None,
                 first_seq: int = 0) -> None:
        self.clock = clock
        self.max_lines = max_lines
        self.file = file
        self.last = first_seq
        self._seqs: deque[int] = deque()
        self._lines: deque[str] = deque()

    def preload(self, lines: list[str]) -> None:
        """Take over the lines of an earlier run (``seq_event`` continues after them)."""
        for text in lines[-self.max_lines:] if self.max_lines else lines:
            try:
                seq = int(json.loads(text)["seq_event"])
            except (ValueError, KeyError, TypeError):
                continue
            if seq > self.last:
                self._seqs.append(seq)
                self._lines.append(text)
                self.last = seq

    def record(self, event: str, *, message_id: str | None = None, recipients: list[str] | tuple[str, ...] = (),
               code: str | None = None, rule: int | None = None, **extra: Any) -> dict[str, Any]:
        """Record one event; returns the line as a dict."""
        self.last += 1
        wall = self.clock.wall()
        line: dict[str, Any] = {
            "src": "inbox", "wall": round(wall, 6), "st": round(self.clock.st(wall), 6),
            "seq_event": self.last, "event": event, "message_id": message_id,
            "recipients": list(recipients), "code": code, "rule": rule,
        }
        line.update(extra)
        text = encode_line(line)
        self._seqs.append(self.last)
        self._lines.append(text)
        if self.max_lines and len(self._lines) > self.max_lines:
            self._seqs.popleft()
            self._lines.popleft()
        if self.file is not None:
            self.file.write(text + "\n")
            self.file.flush()
        return line

    def after(self, after: int, limit: int | None = None) -> list[str]:
        """Lines with ``seq_event > after``, oldest first, at most ``limit``."""
        i = bisect.bisect_right(self._seqs, after)
        end = len(self._lines) if limit is None else min(len(self._lines), i + limit)
        return [self._lines[k] for k in range(i, end)]
