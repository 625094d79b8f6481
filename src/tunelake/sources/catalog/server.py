"""The offline Spotify: a starlette app over a generated catalog, and ways to run it.

Every API call passes the gate, in this order: the fault plan draws the request's fate (in
arrival order, so faults replay from their seed), latency, injected 429 bursts and 5xx, the
bearer token (Spotify endpoints only), the rolling rate limit (one window per service), the
handler, then a dropped connection or truncated JSON. The token endpoint is not faulted and
not rate-limited. Stats count every request by kind (the handler's name) and status.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from multiprocessing.connection import Connection
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tunelake import httpserver
from tunelake.httpserver import STARTUP_TIMEOUT
from tunelake.sources.catalog.auth import MISSING, Tokens, client_from_request
from tunelake.sources.catalog.endpoints import Endpoints, Handler
from tunelake.sources.catalog.faults import Fate, FaultPlan
from tunelake.sources.catalog.generator import Catalog, generate_catalog
from tunelake.sources.catalog.options import CatalogOptions
from tunelake.sources.catalog.ratelimit import RollingWindow
from tunelake.sources.catalog.responses import (
    ErrorAnswer,
    dropped,
    json_response,
    truncated,
)
from tunelake.sources.catalog.stats import Stats

Endpoint = Callable[[Request], Awaitable[Response]]
SERVER_ERROR_MESSAGES = {500: "Server error", 502: "Bad gateway", 503: "Service unavailable"}
INCOMPLETE_RESPONSE = "ASGI callable returned without completing response."


class _DroppedConnectionFilter(logging.Filter):
    """uvicorn logs an error for every response left unfinished; the drop fault does that on
    purpose, and our handlers never do otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != INCOMPLETE_RESPONSE


_UVICORN_ERRORS = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _DroppedConnectionFilter) for f in _UVICORN_ERRORS.filters):
    _UVICORN_ERRORS.addFilter(_DroppedConnectionFilter())


class Gate:
    """What stands between a request and a handler: faults, auth, rate limit, counting."""

    def __init__(self, options: CatalogOptions, stats: Stats) -> None:
        self.options = options
        self.stats = stats
        self.tokens = Tokens(options.client_id, options.client_secret, options.token_ttl)
        self.faults = FaultPlan(options.faults)
        self.windows = {
            service: RollingWindow(options.rate_limit, options.rate_window)
            for service in ("spotify", "reccobeats")
        }

    def reset(self) -> None:
        """Forget counts, restart the fault sequence and empty the rate-limit windows."""
        self.stats.reset()
        self.faults.reset()
        for window in self.windows.values():
            window.reset()

    def api(self, handler: Handler, service: str = "spotify") -> Endpoint:
        kind = handler.__name__

        async def endpoint(request: Request) -> Response:
            fate = self.faults.next()  # before any await: the fate follows arrival order
            if fate.delay:
                await asyncio.sleep(fate.delay)
            try:
                response = self._answer(request, fate, service, handler)
            except ErrorAnswer as error:
                response = error.response()
            if fate.drop:
                self.stats.fault("drop")
                response = dropped(response)
            elif fate.malformed and response.status_code == 200:
                self.stats.fault("malformed")
                response = truncated(response)
            self.stats.record(kind, response.status_code)
            return response

        return endpoint

    def _answer(self, request: Request, fate: Fate, service: str, handler: Handler) -> Response:
        if fate.status == 429:
            self.stats.fault("429_burst")
            raise ErrorAnswer(429, "API rate limit exceeded", {"Retry-After": fate.retry_after})
        if fate.status is not None:
            self.stats.fault("5xx")
            raise ErrorAnswer(fate.status, SERVER_ERROR_MESSAGES[fate.status])
        if service == "spotify":
            self._authorise(request)
        wait = self.windows[service].admit()
        if wait is not None:
            retry_after = str(max(1, math.ceil(wait)))
            raise ErrorAnswer(429, "API rate limit exceeded", {"Retry-After": retry_after})
        return handler(request)

    def _authorise(self, request: Request) -> None:
        problem = self.tokens.problem(request.headers.get("authorization"))
        if problem is None:
            return
        challenge = 'Bearer realm="spotify"'
        if problem != MISSING:  # RFC 6750: no error attribute when no credentials were sent
            challenge += f', error="invalid_token", error_description="{problem}"'
        raise ErrorAnswer(401, problem, {"WWW-Authenticate": challenge})

    def counted(self, kind: str, endpoint: Endpoint) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            response = await endpoint(request)
            self.stats.record(kind, response.status_code)
            return response

        return wrapper

    async def token(self, request: Request) -> Response:
        """POST /api/token: the client-credentials grant, with OAuth-shaped errors."""
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                400,
            )
        client = client_from_request(request.headers.get("authorization"), form)
        if client is None or not self.tokens.accepts(*client):
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client"}, 400
            )
        return json_response(
            {
                "access_token": self.tokens.issue(),
                "token_type": "Bearer",
                "expires_in": self.tokens.ttl,
            },
            headers={"Cache-Control": "no-cache, no-store, must-revalidate"},
        )

    async def stats_endpoint(self, request: Request) -> Response:
        return json_response(self.stats.to_dict())

    async def reset_endpoint(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)


def create_app(options: CatalogOptions, catalog: Catalog | None = None) -> Starlette:
    """The server app; `catalog` defaults to the one `options` describe. app.state carries
    catalog, stats and gate."""
    catalog = catalog or generate_catalog(options.seed, options.n_artists)
    stats = Stats()
    gate = Gate(options, stats)
    api = Endpoints(catalog, options.profile)
    spotify_routes = [
        ("/v1/search", api.search),
        ("/v1/artists", api.several_artists),
        ("/v1/artists/{id}", api.artist),
        ("/v1/artists/{id}/top-tracks", api.top_tracks),
        ("/v1/artists/{id}/albums", api.artist_albums),
        ("/v1/artists/{id}/related-artists", api.related_artists),
        ("/v1/albums", api.several_albums),
        ("/v1/albums/{id}", api.album),
        ("/v1/albums/{id}/tracks", api.album_tracks),
        ("/v1/tracks", api.several_tracks),
        ("/v1/tracks/{id}", api.track),
        ("/v1/audio-features", api.several_audio_features),
        ("/v1/audio-features/{id}", api.audio_features),
    ]
    routes = [Route(path, gate.api(handler)) for path, handler in spotify_routes]
    routes += [
        Route(
            "/reccobeats/v1/audio-features",
            gate.api(api.reccobeats_audio_features, service="reccobeats"),
        ),
        Route("/api/token", gate.counted("token", gate.token), methods=["POST"]),
        Route("/_admin/stats", gate.counted("admin", gate.stats_endpoint)),
        Route("/_admin/reset", gate.counted("admin", gate.reset_endpoint), methods=["POST"]),
    ]

    async def not_routed(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = "Service not found" if status == 404 else str(getattr(exc, "detail", exc))
        stats.record("unknown", status)
        return ErrorAnswer(status, message).response()

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_routed})
    app.state.catalog = catalog
    app.state.stats = stats
    app.state.gate = gate
    return app


# running it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Urls:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return httpserver.base_url(self.host, self.port)

    @property
    def accounts_url(self) -> str:
        """Where the token endpoint lives: POST {accounts_url}/api/token."""
        return self.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def reccobeats_url(self) -> str:
        return f"{self.base_url}/reccobeats/v1"


@dataclass(frozen=True)
class RunningCatalog(_Urls):
    options: CatalogOptions
    catalog: Catalog
    stats: Stats
    gate: Gate

    def reset(self) -> None:
        """Zero the stats, restart the fault sequence, empty the rate-limit windows."""
        self.gate.reset()


@dataclass(frozen=True)
class RunningCatalogProcess(_Urls):
    options: CatalogOptions

    @cached_property
    def catalog(self) -> Catalog:
        """The server's catalog, regenerated here from the same seed."""
        return generate_catalog(self.options.seed, self.options.n_artists)

    @property
    def stats(self) -> Stats:
        """A snapshot of the server's counters."""
        response = httpx.get(f"{self.base_url}/_admin/stats", timeout=10)
        response.raise_for_status()
        return Stats.from_dict(response.json())

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/_admin/reset", timeout=10).raise_for_status()


@contextmanager
def serve_in_thread(
    options: CatalogOptions, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningCatalog]:
    """Run the server on a daemon thread of this process until the block exits."""
    app = create_app(options)
    with httpserver.serve_in_thread(app, host, port, name="catalog-server") as bound:
        yield RunningCatalog(
            host=host,
            port=bound,
            options=options,
            catalog=app.state.catalog,
            stats=app.state.stats,
            gate=app.state.gate,
        )


def serve(
    options: CatalogOptions,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); `on_ready(base_url)` once listening."""
    app = create_app(options)
    httpserver.serve(app, httpserver.bind(host, port, "the catalog server"), on_ready)


def _exit_with_parent(parent: int) -> None:
    """A parent killed outright (SIGKILL) cannot stop its child: the child notices instead."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _serve_child(
    options: CatalogOptions, host: str, port: int, ready: Connection, parent: int
) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    serve(options, host, port, on_ready=ready.send)


@contextmanager
def serve_in_process(
    options: CatalogOptions, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningCatalogProcess]:
    """Run the server in a child process (its own GIL), e.g. for a benchmark's client."""
    context = multiprocessing.get_context("spawn")  # forking a threaded parent is unsafe
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_serve_child,
        args=(options, host, port, send, os.getpid()),
        name="catalog-server",
        daemon=True,
    )
    process.start()
    send.close()
    try:
        if not receive.poll(STARTUP_TIMEOUT):
            raise RuntimeError("the catalog server process did not start in time")
        try:
            base_url = receive.recv()
        except EOFError:
            process.join(timeout=5)
            raise RuntimeError(
                f"the catalog server process exited with code {process.exitcode}; see its log"
            ) from None
        yield RunningCatalogProcess(
            host=host, port=int(base_url.rsplit(":", 1)[1]), options=options
        )
    finally:
        process.terminate()
        process.join(timeout=STARTUP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()
