"""The JSON API: each route parses its request, calls one use case of `tunelake.app` and
returns its typed result. Limits on queries and pages come from the use cases' own
constants, so the OpenAPI document states the same bounds the use cases enforce."""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter

from tunelake import app as use_cases
from tunelake.models import ArtistDocument, IngestRequest, RelatedArtist, TrackSummary
from tunelake.observability import RunRecord
from tunelake.service.problems import PROBLEMS
from tunelake.service.security import Guard
from tunelake.service.state import Service

log = structlog.get_logger("tunelake.service")
MAX_LENGTH = use_cases.MAX_QUERY_LENGTH
# Far past any real offset or id, and inside every backend's integer types.
MAX_OFFSET = 1_000_000
MAX_ID = 2**31 - 1

Neighbours = tuple[RelatedArtist, ...]
_NEIGHBOURS = TypeAdapter(Neighbours)
ArtistId = Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)]


class IngestAsk(BaseModel):
    artist: str = Field(min_length=1, max_length=MAX_LENGTH, description="A name or an id")


class CheckOut(BaseModel):
    role: str
    ok: bool
    detail: str


class HealthReport(BaseModel):
    status: Literal["ok", "down"]
    checks: list[CheckOut]


class Pong(BaseModel):
    ok: bool = True


async def service(request: Request) -> Service:  # async: no thread-pool hop
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service)]


def router(read: Guard, write: Guard) -> APIRouter:
    api = APIRouter(responses=PROBLEMS)
    reads, writes = [Depends(read)], [Depends(write)]

    @api.get("/artists", dependencies=reads, tags=["artists"])
    def search_artists(
        svc: Svc,
        q: Annotated[str, Query(min_length=1, max_length=MAX_LENGTH, description="Part of a name")],
        limit: Annotated[int, Query(ge=1, le=use_cases.MAX_PAGE_SIZE)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> use_cases.ArtistPage:
        """Artists whose name contains q, by name."""
        return use_cases.search_artists(
            svc.settings, q, limit=limit, offset=offset, warehouse=svc.warehouse()
        )

    @api.get("/artists/{artist_id}", dependencies=reads, tags=["artists"])
    def get_artist(svc: Svc, artist_id: ArtistId) -> ArtistDocument:
        return use_cases.artist(svc.settings, artist_id, store=svc.serving())

    @api.get("/artists/{artist_id}/top-tracks", dependencies=reads, tags=["artists"])
    def top_tracks(svc: Svc, artist_id: ArtistId) -> tuple[TrackSummary, ...]:
        return use_cases.top_tracks(svc.settings, artist_id, store=svc.serving())

    @api.get(
        "/artists/{artist_id}/similar",
        dependencies=reads,
        tags=["artists"],
        response_model=Neighbours,
    )
    async def similar(svc: Svc, artist_id: ArtistId) -> Response:
        """The nearest artists, nearest first: one key lookup in the serving store."""
        # On the event loop, not the thread pool: the lookup is one key read on an open
        # connection (tens of microseconds), and handing it to a thread costs more than the
        # read (the benchmark's figures). A store that hangs is bounded by its own timeout
        # (TUNELAKE_REQUEST_TIMEOUT); /health reports it.
        neighbours = use_cases.similar_to(svc.settings, artist_id, store=svc.serving())
        # validated by the use case already: serialised once, not validated again by FastAPI
        return Response(_NEIGHBOURS.dump_json(neighbours), media_type="application/json")

    @api.post("/ingest-requests", status_code=202, dependencies=writes, tags=["ingest requests"])
    def ask_for_ingest(svc: Svc, ask: IngestAsk, response: Response) -> IngestRequest:
        """Queue an artist for the next run (idempotent per normalised name: asking again
        while it is pending returns the same request)."""
        (queued,) = use_cases.request_ingest(svc.settings, [ask.artist], source="api")
        response.headers["Location"] = f"/ingest-requests/{queued.request_id}"
        return queued

    @api.get("/ingest-requests/{request_id}", dependencies=reads, tags=["ingest requests"])
    def ingest_request(
        svc: Svc, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]
    ) -> IngestRequest:
        return use_cases.ingest_request(svc.settings, request_id, warehouse=svc.warehouse())

    @api.get("/runs", dependencies=reads, tags=["runs"])
    def runs(
        svc: Svc, limit: Annotated[int, Query(ge=1, le=use_cases.MAX_PAGE_SIZE)] = 20
    ) -> list[RunRecord]:
        return use_cases.recent_runs(svc.settings, limit, warehouse=svc.warehouse())

    @api.get("/runs/{run_id}", dependencies=reads, tags=["runs"])
    def run(
        svc: Svc, run_id: Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)]
    ) -> use_cases.RunQuality:
        """A run's steps and counts, and its dt's quarantined rows by reason."""
        return use_cases.run_quality(svc.settings, run_id, warehouse=svc.warehouse())

    @api.get(
        "/health",
        tags=["operations"],
        response_model=HealthReport,
        responses={503: {"model": HealthReport, "description": "A backend is down"}},
    )
    def health(svc: Svc) -> JSONResponse:
        """Every store the service reads, checked now; 503 when one is down."""
        checks = use_cases.health(svc.settings)
        for c in checks:
            if not c.ok:
                log.warning("health check failed", role=c.role, detail=c.detail)
        report = HealthReport(
            status="ok" if all(c.ok for c in checks) else "down",
            # a failure's one line may name hosts: clients learn which store, the log why
            checks=[
                CheckOut(role=c.role, ok=c.ok, detail=c.detail if c.ok else "unreachable")
                for c in checks
            ],
        )
        return JSONResponse(report.model_dump(), 200 if report.status == "ok" else 503)

    @api.get("/ping", tags=["operations"])
    async def ping() -> Pong:
        """A constant answer that touches no backend: liveness, and the framework's own
        speed for the benchmark."""
        return Pong()

    return api
