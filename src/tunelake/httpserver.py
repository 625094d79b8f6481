"""Running an ASGI app on uvicorn, bound to a loopback port: what the catalog server and the
service share (`port=0` picks a free port; the socket is bound before uvicorn starts, so the
caller knows the port before the first request).

Idle connections are closed: KEEP_ALIVE_TIMEOUT after a response, and HEADER_TIMEOUT after a
connection opens or a request starts without its head complete (uvicorn has no such
timeout: a client that connects and sends nothing, or half a request line, would hold its
socket for ever)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tunelake.errors import UserError

STARTUP_TIMEOUT = 60.0
KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open after its last response."""
HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's head (line and headers) once it connects or
starts the request."""
MAX_PORT = 65535


class CannotListen(UserError, OSError):
    """The server cannot listen where it was told: a port out of range, an address that is
    not this machine's, a port in use. (An OSError too: what a socket error was before.)"""


def _head_timeout(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol (several times faster than h11; a core dependency) with a
    timer from the connection's start, or a request's first byte, to its complete head."""

    class HeadTimeout(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadTimeout


def uvicorn_config(
    app: Any, keep_alive: int = KEEP_ALIVE_TIMEOUT, header_timeout: float = HEADER_TIMEOUT
) -> uvicorn.Config:
    # No access log from uvicorn: an app that wants one writes it without headers or query
    # strings.
    return uvicorn.Config(
        app,
        loop="asyncio",
        http=_head_timeout(header_timeout),
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=5,
    )


def bind(host: str, port: int, what: str = "the server") -> socket.socket:
    if not 0 <= port <= MAX_PORT:
        raise CannotListen(
            f"{what} cannot listen on port {port}: a port is 0 (a free one) to {MAX_PORT}"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:  # an address in use or not this machine's, a name that resolves not
        reason = (exc.strerror or str(exc)).split(" (while attempting")[0]
        raise CannotListen(f"{what} cannot listen on {host}:{port}: {reason}") from exc
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and create_server's
    # have proto 0; accepted connections inherit it from here instead. Without it, Nagle and
    # delayed ACKs add 40 ms to every keep-alive request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(app: Any, sock: socket.socket, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve on sock until interrupted (SIGINT/SIGTERM); `on_ready(base_url)` once listening."""
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn_config(app))

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.005)
        if server.started and on_ready is not None:
            on_ready(base_url(host, port))
        await task

    try:
        asyncio.run(main())
    finally:
        sock.close()


@contextmanager
def serve_in_thread(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "http-server",
    keep_alive: int = KEEP_ALIVE_TIMEOUT,
    header_timeout: float = HEADER_TIMEOUT,
) -> Iterator[int]:
    """Run app on a daemon thread of this process until the block exits; yields the port."""
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(app, keep_alive, header_timeout))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see the log above")
            time.sleep(0.005)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()
