"""Limits on MIME parsing: how deep a message may nest, and which messages cost a worker.

The stdlib parser nests one generator (and one C stack frame chain) per multipart or
message/* level, and every line it reads is passed down the whole chain: a message with
1,000 nested multiparts raises RecursionError, and one with a few hundred levels costs
depth x lines.  ``parse_bytes`` is the stdlib ``FeedParser`` refusing to open a level past
``MAX_DEPTH``; the caller stores and serves such a message raw, with a note.

Whether a parse runs on the event loop or in a worker thread is decided by the message's
structure as well as its size: the cost of the full view grows with the number of parts
(a 135 KB message with 3,500 parts takes about a second), so a cheap count of the lines
that can be part delimiters sends such a message to a worker.
"""

from __future__ import annotations

from email.feedparser import FeedParser
from email.message import Message
from email.policy import Policy

MAX_DEPTH = 50  # nested multipart / message levels (real mail stays under 10)
INLINE_MAX_BYTES = 256 * 1024  # bigger messages are parsed in a worker thread
INLINE_MAX_DELIMITERS = 100  # so are messages with more lines that may delimit a part


class Unparseable(ValueError):
    """The parser gave up on a message; ``reason`` is the note shown with its raw source."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _DepthLimitedParser(FeedParser):
    """``FeedParser`` that refuses to open a level deeper than ``MAX_DEPTH``."""

    def _new_message(self) -> None:
        if len(self._msgstack) >= MAX_DEPTH:  # type: ignore[attr-defined]
            raise Unparseable(f"MIME structure nested deeper than {MAX_DEPTH} levels; shown unparsed")
        super()._new_message()  # type: ignore[misc]


def parse_bytes(raw: bytes, policy: Policy, headers_only: bool = False) -> Message:
    """What ``BytesParser(policy=policy).parsebytes(raw)`` returns, within ``MAX_DEPTH``.

    Raises ``Unparseable`` for a deeper message (and for anything else the stdlib parser
    raises, which it is not meant to do).
    """
    parser = _DepthLimitedParser(policy=policy)
    if headers_only:
        parser._set_headersonly()  # type: ignore[attr-defined]
    try:
        parser.feed(raw.decode("ascii", "surrogateescape"))
        return parser.close()
    except Unparseable:
        raise
    except (RecursionError, MemoryError) as exc:
        raise Unparseable(f"MIME parser failed ({type(exc).__name__}); shown unparsed") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure leaves the message raw, never a 500
        raise Unparseable(f"MIME parser failed ({type(exc).__name__}: {exc}); shown unparsed") from None


def needs_worker(raw: bytes) -> bool:
    """Whether parsing ``raw`` may take long enough to stall the event loop.

    Big messages, and messages with many lines starting ``--`` (every part delimiter is
    one; the count is a fast C scan), so a small message with thousands of parts or deep
    nesting is parsed off the loop too.
    """
    return len(raw) > INLINE_MAX_BYTES or raw.count(b"\n--") > INLINE_MAX_DELIMITERS
