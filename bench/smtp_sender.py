"""A lean SMTP sender: N messages over C persistent connections, one transaction at a time each.

The same sender drives the inbox and the bare aiosmtpd handler, so whatever it costs is in
both sides of the ratio. It speaks plain RFC 5321 (EHLO, MAIL, RCPT, DATA, one reply awaited
per command, as aiosmtplib does; no pipelining, which aiosmtpd does not advertise) and
composes nothing while timing: DATA payloads are dot-stuffed before the clock starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

SENDER = b"no-reply@portal.example"


class SmtpError(RuntimeError):
    """A reply that was not the expected 2xx/3xx."""


@dataclass(frozen=True)
class Prepared:
    """One message ready for the wire: envelope commands and the dot-stuffed DATA payload."""

    mail: bytes
    rcpt: bytes
    data: bytes


def prepare(recipient: str, raw: bytes) -> Prepared:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)
    return Prepared(b"MAIL FROM:<" + SENDER + b">\r\n", b"RCPT TO:<" + recipient.encode() + b">\r\n",
                    stuffed + b"\r\n.\r\n")


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """A complete (maybe multi-line) reply: its code and its last line."""
    for _ in range(100):
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed by the server")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line
    raise SmtpError("reply longer than 100 lines")


async def _expect(reader: asyncio.StreamReader, first: int) -> bytes:
    code, line = await read_reply(reader)
    if code // 100 != first:
        raise SmtpError(line.decode("utf-8", "replace").strip())
    return line


class Connection:
    """One SMTP session; `send` returns the perf_counter time the final 250 was read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        conn = cls(reader, writer)
        await _expect(reader, 2)
        writer.write(b"EHLO bench.localhost\r\n")
        await _expect(reader, 2)
        return conn

    async def send(self, msg: Prepared) -> float:
        w, r = self.writer, self.reader
        w.write(msg.mail)
        await _expect(r, 2)
        w.write(msg.rcpt)
        await _expect(r, 2)
        w.write(b"DATA\r\n")
        await _expect(r, 3)
        w.write(msg.data)
        await _expect(r, 2)
        return time.perf_counter()

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(read_reply(self.reader), 5)
        except (OSError, SmtpError, TimeoutError):
            pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


@dataclass
class BlastResult:
    sent: int
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


async def blast(host: str, port: int, messages: Sequence[Prepared], connections: int,
                timeout: float = 300.0) -> BlastResult:
    """Send every message, spread over `connections` sessions; timed from first MAIL to last 250."""
    conns = await asyncio.gather(*(Connection.open(host, port) for _ in range(connections)))
    next_index = 0
    sent = 0
    errors: list[str] = []

    async def worker(conn: Connection) -> None:
        nonlocal next_index, sent
        while next_index < len(messages) and not errors:
            msg = messages[next_index]
            next_index += 1
            try:
                await conn.send(msg)
            except (OSError, SmtpError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            sent += 1

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(worker(c) for c in conns)), timeout)
    except TimeoutError:
        errors.append(f"timeout after {timeout} s with {sent} of {len(messages)} sent")
    seconds = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in conns))
    return BlastResult(sent, seconds, errors)
