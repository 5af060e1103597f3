"""The floor under the portal: a Tornado hello-world (``python -m bench.hello_app``).

Same framework, same single process, same loopback; prints a ready JSON line like the
portal's and stops on SIGTERM/SIGINT with exit 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


async def serve() -> None:
    loop = asyncio.get_running_loop()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Hello)]))
    server.add_sockets(sockets)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"ready": "hello", "url": f"http://127.0.0.1:{port}", "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    server.stop()
    await server.close_all_connections()


def main() -> int:
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
