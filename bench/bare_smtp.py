"""The floor under the inbox: aiosmtpd with a handler that only counts (``python -m bench.bare_smtp``).

Same protocol class and options as fake_smtp's listener (8-bit raw data, SMTPUTF8, 10 MB
limit, asyncio loop), so the ratio to it is the cost of everything the inbox does beyond
speaking SMTP: parsing, indexing, code extraction, history. Prints the ready JSON line
(docs/interfaces.md "Processes") and stops on SIGTERM/SIGINT with exit 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any

from aiosmtpd.smtp import SMTP


class CountingHandler:
    """Accepts every message and counts it; nothing is parsed or kept."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 OK"


async def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    loop = asyncio.get_running_loop()
    handler = CountingHandler()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=10 * 1024 * 1024, enable_SMTPUTF8=True, decode_data=False,
                     hostname="bare.localhost", ident="bare aiosmtpd", loop=loop),
        host, port, family=socket.AF_INET, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"ready": "bare-smtp", "smtp_host": host, "smtp_port": bound,
                                 "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    server.close()
    print(f"bare-smtp: {handler.count} messages, {handler.bytes} bytes", file=sys.stderr)


def main() -> int:
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
