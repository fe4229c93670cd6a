"""py-capnweb 0.5.0 server for the interop harness.

    python interop/python/server.py [HOST:PORT]      (default 127.0.0.1:0)

Serves the interop surface on one port over HTTP batch (POST) and WebSocket (GET upgrade), at
py-capnweb's own paths /rpc/batch and /rpc/ws and also at / (the path means nothing to the
protocol; the Node client uses /). First stdout line: `listening on HOST:PORT`. Exits 0 on
SIGTERM/SIGINT and when its stdin is a pipe/socket that reaches EOF.

py-capnweb registers one main object for the whole server (its sessions share it); the surface
is stateless, so that is not observable here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
import sys
import threading
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capnweb.server import Server, ServerConfig  # noqa: E402

from surface import InteropApi  # noqa: E402


class InteropServer(Server):
    async def start(self) -> None:
        # Same as Server.start() but with extra routes at "/" and without its banner on stdout.
        self._app = web.Application()
        for path in ("/rpc/batch", "/"):
            self._app.router.add_post(path, self._handle_batch)
        for path in ("/rpc/ws", "/"):
            self._app.router.add_get(path, self._handle_websocket)
        self._runner = web.AppRunner(self._app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await self._site.start()


def parse_host_port(arg: str) -> tuple[str, int]:
    host, sep, port = arg.rpartition(":")
    if not sep or not port.isdigit():
        print(f"usage: server.py HOST:PORT (got {arg!r})", file=sys.stderr)
        sys.exit(2)
    return host.strip("[]"), int(port)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return  # /dev/null, a file or a TTY: run until killed

    def reader() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=reader, daemon=True).start()


async def main() -> None:
    host, port = parse_host_port(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:0")
    if os.environ.get("INTEROP_TRACE"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    else:
        logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)

    server = InteropServer(ServerConfig(host=host, port=port))
    server.register_capability(0, InteropApi())
    await server.start()

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch_stdin(loop, stop)

    sys.stdout.write(f"listening on {host}:{server.port}\n")
    sys.stdout.flush()
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
