"""HTTP for benchmarks: a lean keep-alive client for timing (control calls use mfa_harness.harness_http).

The timing client speaks just enough HTTP/1.1 (GET, Content-Length or empty bodies, one
request at a time per connection) that its own cost is small and identical on both sides
of a latency ratio.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    """A malformed or closed response."""


class KeepAlive:
    """One persistent HTTP/1.1 connection; `get` returns (status, body, perf_counter at last byte)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base_url: str) -> KeepAlive:
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 22)
        return cls(reader, writer, parts.netloc)

    def send_get(self, path: str) -> None:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode("ascii"))

    async def read_response(self) -> tuple[int, bytes, float]:
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("connection closed")
        status = int(status_line.split()[1])
        length = 0
        for _ in range(200):
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body, time.perf_counter()

    async def get(self, path: str) -> tuple[int, bytes, float]:
        self.send_get(path)
        return await self.read_response()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
