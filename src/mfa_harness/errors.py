"""One base error for everything a user can cause: a one-line message, an exit code, and the facts.

The facts travel as fields (which rule, which field, which listener, which port...), so code that
reacts to an error reads a field, never the message's words. A child process that cannot start
says so with one JSON line on stdout (`tell_parent`: `{"error": ..., **fields}`, where the ready
line of docs/interfaces.md "Processes" would be); `from_line` turns it back into an error on the
parent's side.

    raise HarnessError("cannot listen for SMTP on 127.0.0.1:25: Permission denied",
                       listener="smtp", host="127.0.0.1", port=25)

The command line prints `mfa-harness: <message>` on stderr and exits with `exit_code`.
"""

from __future__ import annotations

import json
from typing import Any

EXIT_OK = 0
EXIT_INVARIANT = 1        # an invariant's verdict is not as expected
EXIT_SETUP = 2            # usage or setup error: one line on stderr, never a traceback
EXIT_THRESHOLD = 3        # only thresholds missed
EXIT_GATE = 3             # `compare --fail-if`: a regression gate tripped (as a missed threshold)
EXIT_INTERRUPTED = 130    # Ctrl-C or SIGTERM: the run stopped through its teardown, no verdict


class HarnessError(Exception):
    """An error a user can cause or fix: `message` (one line), `exit_code`, and `fields`.

    Subclasses name a kind; the fields name the facts. `err.field("port")` reads one (None if absent).
    """

    exit_code: int = EXIT_SETUP

    def __init__(self, message: str, *, exit_code: int | None = None, **fields: Any):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}

    def field(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def line(self) -> str:
        """The message as one line (a multi-line message, such as a log tail, keeps its first line)."""
        return self.message.splitlines()[0] if self.message else type(self).__name__

    def to_json(self) -> dict[str, Any]:
        """The error as a JSON object: `error` (the message), `kind`, `exit_code` and the fields."""
        return {"error": self.message, "kind": type(self).__name__, "exit_code": self.exit_code, **self.fields}

    def json_line(self) -> str:
        """What a child prints on stdout before it exits: one JSON line its parent reads (`from_line`)."""
        return json.dumps(self.to_json(), default=str)


class SetupError(HarnessError):
    """A run, or a command, could not be set up (exit 2): a bad option, an unusable target, a refusal."""


class OptionError(SetupError):
    """A command-line option's value is wrong: `option` names it (e.g. `--workers`), `value` is what was given."""

    def __init__(self, option: str, message: str, *, value: Any = None, **fields: Any):
        super().__init__(message, option=option, value=value, **fields)


class ListenError(HarnessError):
    """A listener could not be bound: `listener` (`smtp`, `http`, `portal`), `host`, `port`, `why` (errno text)."""

    def __init__(self, message: str, *, listener: str, host: str, port: int, why: str = "", **fields: Any):
        super().__init__(message, listener=listener, host=host, port=port, why=why, **fields)


class StartError(HarnessError):
    """A child process did not start: `child` names it; `reason` is its own one-line error when it gave
    one (then `cause` is that error's fields: `listener`, `port`...), else the message holds its log's end."""

    def __init__(self, message: str, *, child: str, reason: str = "", cause: dict[str, Any] | None = None,
                 **fields: Any):
        super().__init__(message, child=child, reason=reason or None, **fields)
        self.child, self.reason = child, reason
        self.cause: dict[str, Any] = dict(cause or {})


def from_line(obj: Any) -> HarnessError | None:
    """A child's JSON error line (an object with an `error` string) as an error with its fields; else None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), str):
        return None
    fields = {k: v for k, v in obj.items() if k not in ("error", "kind", "exit_code")}
    code = obj.get("exit_code")
    return HarnessError(obj["error"], exit_code=code if isinstance(code, int) else None, **fields)


ERROR_LINE_ENV = "MFA_HARNESS_ERROR_LINE"    # set by a parent that reads its child's error line


def tell_parent(message: str, **fields: Any) -> None:
    """A child that cannot start: one JSON error line on stdout, where its parent waits for the ready
    line (scenarios/stack.py sets ERROR_LINE_ENV), beside the human line the child writes on stderr.
    Without that parent (a person at a terminal), nothing is written."""
    import os
    import sys

    if os.environ.get(ERROR_LINE_ENV):
        sys.stdout.write(HarnessError(message, **fields).json_line() + "\n")
        sys.stdout.flush()
