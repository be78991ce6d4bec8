"""Run a uvicorn server in a daemon thread and return once it listens.

Used by the served Graph fake and simlab's control API. The caller waits on an event that
the server sets when its start-up is over (listening, or failed), instead of polling
``server.started``: a lab start does not lose a polling interval per server.
"""

from __future__ import annotations

import threading

import uvicorn


class ServerStartError(RuntimeError):
    """The server did not come up (its port was taken, the app failed, or it took too long)."""


class _Server(uvicorn.Server):
    """A uvicorn server that tells a waiting thread when its start-up has finished."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    async def startup(self, sockets: list | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:  # listening, or failed (uvicorn exits the thread with SystemExit): wake the caller
            self.startup_done.set()


def start_server(config: uvicorn.Config, *, name: str, what: str,
                 timeout: float = 10.0) -> tuple[uvicorn.Server, threading.Thread]:
    """Start ``config``'s server in a daemon thread named ``name``; return it once it listens.

    Raises :class:`ServerStartError` ("uvicorn did not start <what>") if it failed or did not
    listen within ``timeout`` seconds. Stop it with ``server.should_exit = True`` and
    ``thread.join()``.
    """
    server = _Server(config)

    def run() -> None:
        try:
            server.run()
        finally:  # ended before its start-up did (e.g. the app could not be loaded)
            server.startup_done.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not server.startup_done.wait(timeout) or not server.started:
        server.should_exit = True
        raise ServerStartError(f"uvicorn did not start {what}")
    return server, thread


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (the ephemeral one when asked for port 0)."""
    return server.servers[0].sockets[0].getsockname()[1]
