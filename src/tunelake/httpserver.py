"""Running an ASGI app on uvicorn, bound to a loopback port: what the catalog server and the
service share (`port=0` picks a free port; the socket is bound before uvicorn starts, so the
caller knows the port before the first request)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 60.0


def uvicorn_config(app: Any) -> uvicorn.Config:
    # http="auto" takes httptools when installed (several times faster), else h11. No access
    # log from uvicorn: an app that wants one writes it without headers or query strings.
    return uvicorn.Config(
        app,
        loop="asyncio",
        http="auto",
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def bind(host: str, port: int, what: str = "the server") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise OSError(f"{what} cannot listen on {host}:{port}: {exc}") from exc
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
    app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "http-server"
) -> Iterator[int]:
    """Run app on a daemon thread of this process until the block exits; yields the port."""
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(app))
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
