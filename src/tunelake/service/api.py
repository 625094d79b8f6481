"""The service app: the JSON API, the chatbot skill and the dashboard, and how to serve it.

`create_app(settings)` composes the parts; nothing here decides anything about artists or
runs (that is `tunelake.app`). The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from tunelake import httpserver
from tunelake.config import Settings
from tunelake.pipeline.resources import require_data_directory
from tunelake.service import chat, dashboard, listening, problems, recommend, routes
from tunelake.service.limits import LimitBody
from tunelake.service.metrics import Metrics, ObserveRequests
from tunelake.service.security import guards
from tunelake.service.state import Service


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="tunelake",
        summary="Artists, their top tracks and nearest artists; runs and ingest requests.",
        version="1",
        # no interactive docs page: it loads its JavaScript from a CDN, and the service
        # works offline; the OpenAPI document is at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    # the stores it opens are closed by whoever serves the app (see serve)
    app.state.service = Service(settings)
    metrics = Metrics()
    problems.install(app, metrics)
    read, write = guards(settings)
    app.include_router(routes.router(read, write))
    app.include_router(chat.router(read))
    app.include_router(dashboard.router(read))
    app.include_router(listening.router(read))
    app.include_router(recommend.router(read))

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text: requests by route and status, latencies, serving-store errors."""
        return Response(metrics.render(), media_type=metrics.content_type)

    # outermost last: every request is timed, then its body bounded
    app.add_middleware(LimitBody)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api_cors_origins),
            allow_methods=["GET", "POST"],
        )
    app.add_middleware(ObserveRequests, metrics=metrics)
    return app


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted; `on_ready(base_url)` once listening (port 0: a free one)."""
    require_data_directory(settings)
    app = create_app(settings)
    try:
        httpserver.serve(app, httpserver.bind(host, port, "tunelake serve"), on_ready)
    finally:
        app.state.service.close()
