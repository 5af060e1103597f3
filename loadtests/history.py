"""Client history as JSON lines (docs/interfaces.md "Client operations"), and where lines go.

Every operation is an `invoke` line and exactly one completion (`ok`, `fail` or `info`);
a timeout or connection error is `info` (outcome unknown), and so is an operation cut short
by the end of the test. A line is encoded once, here, and handed to the history's listeners:
its sink (straight to a file in a standalone run, in batches to the master over Locust's
messaging on a worker, and from those messages into the one file on the master), plus any
reader that registers with `add_listener` (the web UI's live MFA tab). Nobody wraps a sink's
`write` to see the lines.
"""

from __future__ import annotations

import json
import json.encoder
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from gevent import GreenletExit

from .timebase import Timebase

BATCH_LINES = 500
FILE_BATCH_LINES = 64        # lines a file sink holds before writing them (all of them at every flush)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)     # the documented line format


def _line_encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode`, with the C encoder built once instead of per call (as fake_smtp/history.py).

    `json.dumps(..., separators=..., default=str)` built a JSONEncoder and its C encoder for every
    line. The output is byte for byte the same (ASCII-escaped, no spaces); checked here on a
    sample, and against `json.dumps` in tests/loadtests/test_loadtests_metrics_history.py.
    """
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    string = json.encoder.c_encode_basestring_ascii  # type: ignore[attr-defined]
    if make is None or string is None:
        return _ENCODER.encode
    it = make(None, _ENCODER.default, string, None, ":", ",", False, False, True)

    def encode(obj: Any) -> str:
        return "".join(it(obj, 0))

    sample = {"a": [1, 2.5, None, True, float("nan")], "é": "x\n\u2028", "n": {"k": -0.0}, "o": object}
    return encode if encode(sample) == _ENCODER.encode(sample) else _ENCODER.encode


encode_line = _line_encoder()
_ascii_string: Callable[[str], str] = (json.encoder.c_encode_basestring_ascii  # type: ignore[attr-defined]
                                       or json.encoder.py_encode_basestring_ascii)


def _string(value: Any) -> str:
    """One JSON value as `encode_line` writes it, strings (nearly all) without the encoder's set-up."""
    return _ascii_string(value) if type(value) is str else encode_line(value)


def _number(value: Any) -> str:
    """A float as the JSON encoder writes it (`float.__repr__`; NaN and infinities as it spells them)."""
    if type(value) is float and value - value == 0.0:
        return float.__repr__(value)
    return encode_line(value)


def who_fields(proc: Any, flow: Any, persona: Any, user: Any) -> str:
    """The `,"proc":…,"flow":…,"persona":…,"user":…` stretch of a history line, encoded."""
    return (',"proc":' + _string(proc) + ',"flow":' + _string(flow) + ',"persona":' + _string(persona)
            + ',"user":' + _string(user))


class Sink:
    """Where encoded history lines go; the base sink drops them (no --history-file)."""

    def write(self, line: str) -> None:
        """Accept one encoded line (no trailing newline)."""

    def flush(self, final: bool = False) -> None:
        """Push buffered lines on; `final` at the end of a test run."""

    def close(self) -> None:
        self.flush(final=True)


class FileSink(Sink):
    """Appends lines to one file (standalone runner, or the master writing merged lines)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO | None = open(self.path, "w", encoding="utf-8")  # closed in close()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.lines = 0
        self.late = 0

    def write(self, line: str) -> None:
        """Take a line; lines reach the file FILE_BATCH_LINES at a time, and all of them at every
        `flush` (the run's flusher calls it each second) and at `close`: one locked write per batch
        instead of one per line, which was a tenth of the history's cost (profiled)."""
        if self._fh is None:
            self.late += 1          # after the summary was written: counted, reported by the caller
            return
        self._pending.append(line)
        self.lines += 1
        if len(self._pending) >= FILE_BATCH_LINES:
            self._write_pending()

    def _write_pending(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
            if lines and self._fh is not None:
                self._fh.write("\n".join(lines) + "\n")

    def flush(self, final: bool = False) -> None:
        if self._fh is not None:
            self._write_pending()
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._write_pending()
            self._fh.flush()
            self._fh.close()
            self._fh = None


class BatchSink(Sink):
    """A worker's sink: buffers lines and hands batches to `send(lines, final)` (the master)."""

    def __init__(self, send: Callable[[list[str], bool], None], batch: int = BATCH_LINES) -> None:
        self._send = send
        self._batch = batch
        self._buffer: list[str] = []
        self.sent = 0

    def write(self, line: str) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= self._batch:
            self.flush()

    def flush(self, final: bool = False) -> None:
        lines, self._buffer = self._buffer, []
        if lines or final:
            self._send(lines, final)
            self.sent += len(lines)


Listener = Callable[[str], None]


class History:
    """Encodes client lines with the common fields (`src`, `wall`, `st`) and hands them to its listeners.

    The sink is the first listener, and the one whose `flush`/`close` the run's end calls; other
    listeners (`add_listener`) only read lines. Assigning `sink` swaps the sink's listener.
    """

    def __init__(self, timebase: Timebase, sink: Sink | None = None) -> None:
        self.timebase = timebase
        self._sink: Sink = Sink()
        self.listeners: list[Listener] = []
        self.sink = sink or Sink()
        self.count = 0

    @property
    def sink(self) -> Sink:
        return self._sink

    @sink.setter
    def sink(self, sink: Sink) -> None:
        self.listeners = [fn for fn in self.listeners if getattr(fn, "__self__", None) is not self._sink]
        self._sink = sink
        self.listeners.insert(0, sink.write)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(line)` with every encoded line from now on (the sink's own write comes first)."""
        self.listeners.append(listener)

    def publish(self, line: str) -> None:
        """Hand one encoded line to every listener and count it (own lines, or a worker's on the master)."""
        for listener in self.listeners:
            listener(line)
        self.count += 1

    def emit(self, type_: str, op: str, value: dict[str, Any] | None, *, proc: str, flow: str | None,
             persona: str, user: str, wall: float) -> None:
        self.emit_as(who_fields(proc, flow, persona, user), type_, op, value, wall)

    def emit_as(self, who: str, type_: str, op: str, value: dict[str, Any] | None, wall: float) -> None:
        """`emit` with the line's `proc`, `flow`, `persona` and `user` already encoded (`who_fields`):
        a recorder encodes them once per flow instead of once per line. The line is byte for byte
        what encoding the whole dict gives (keys in the documented order)."""
        self.publish(f'{{"src":"client","wall":{_number(round(wall, 6))},"st":{_number(round(self.timebase.st(wall), 6))}'
                     f',"type":{_string(type_)}{who},"op":{_string(op)},"value":{encode_line(value or {})}}}')


class Operation:
    """One client operation: created by `Recorder.op`, completed once with ok / fail / info."""

    def __init__(self, rec: Recorder, op: str, value: dict[str, Any] | None) -> None:
        self.rec, self.op = rec, op
        self.done: str | None = None
        self.result: dict[str, Any] = {}
        rec.line("invoke", op, value)

    def ok(self, value: dict[str, Any] | None = None) -> None:
        self._complete("ok", value)

    def fail(self, value: dict[str, Any] | None = None) -> None:
        self._complete("fail", value)

    def info(self, value: dict[str, Any] | None = None) -> None:
        self._complete("info", value)

    def _complete(self, type_: str, value: dict[str, Any] | None) -> None:
        if self.done is not None:
            raise RuntimeError(f"operation {self.op} completed twice ({self.done}, then {type_})")
        self.done = type_
        self.result = value or {}
        self.rec.line(type_, self.op, value)

    def __enter__(self) -> Operation:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.done is None:
            if exc is None:
                self.info({"reason": "not_completed"})
            elif isinstance(exc, GreenletExit):
                self.info({"reason": "stopped"})
            else:
                self.info({"reason": "error", "error": f"{type(exc).__name__}: {exc}"[:300]})
        return False


class Recorder:
    """The history of one simulated user: its proc id, persona, username and current flow."""

    def __init__(self, history: History, proc: str, persona: str, user: str = "") -> None:
        self.history = history
        self.proc, self.persona, self.user = proc, persona, user
        self.flow: str | None = None
        self._flows = 0
        self._who_key: tuple[Any, ...] | None = None
        self._who = ""

    def new_flow(self) -> str:
        self._flows += 1
        self.flow = f"{self.proc}-{self._flows}"
        return self.flow

    def line(self, type_: str, op: str, value: dict[str, Any] | None, wall: float | None = None) -> None:
        who = (self.proc, self.flow, self.persona, self.user)
        if who != self._who_key:            # a new flow (or a changed field): encoded once for its lines
            self._who_key, self._who = who, who_fields(*who)
        self.history.emit_as(self._who, type_, op, value, time.time() if wall is None else wall)

    def op(self, op: str, value: dict[str, Any] | None = None) -> Operation:
        return Operation(self, op, value)
