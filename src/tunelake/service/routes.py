"""The JSON API: each route parses its request, calls one use case of `tunelake.app` and
returns its typed result. Limits on queries and pages come from the use cases' own
constants, so the OpenAPI document states the same bounds the use cases enforce."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field, TypeAdapter

from tunelake import app as use_cases
from tunelake.models import ArtistDocument, IngestRequest, RelatedArtist, TrackSummary
from tunelake.observability import RunRecord
from tunelake.service.problems import PROBLEMS
from tunelake.service.security import Authenticated, Guard, authenticating_first
from tunelake.service.state import Service

log = structlog.get_logger("tunelake.service")
MAX_LENGTH = use_cases.MAX_QUERY_LENGTH
# Far past any real offset or id, and inside every backend's integer types.
MAX_OFFSET = 1_000_000
MAX_ID = 2**31 - 1

Neighbours = tuple[RelatedArtist, ...]
_NEIGHBOURS = TypeAdapter(Neighbours)
ArtistId = Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)]


# One rule for a name, stated in the schema so that clients and schema-driven tests see it:
# at least one character that is neither whitespace nor a control character, and no control
# characters at all (a NUL would reach the warehouse and every later lookup).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"


class IngestAsk(BaseModel):
    artist: str = Field(
        min_length=1,
        max_length=MAX_LENGTH,
        pattern=NAME_PATTERN,
        description="A name or an id: not blank, no control characters",
    )


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


def public_view(record: RunRecord) -> RunRecord:
    """A run as anyone may see it: no process id, host name, data paths or dump path."""
    source = record.source.split(":", 1)[0] if record.source else record.source
    return record.model_copy(update={"pid": None, "host": None, "outputs": {}, "source": source})


def _wants_html(accept: str | None) -> bool:
    """Whether the client prefers an HTML page to JSON (a browser does; `*/*` does not)."""
    weights: dict[str, float] = {}
    for part in (accept or "").split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            weights[kind.lower()] = float(q)
        except ValueError:
            continue
    return weights.get("text/html", 0) > weights.get("application/json", 0)


def router(read: Guard, write: Guard) -> APIRouter:
    api = APIRouter(responses=PROBLEMS)
    reads, writes = [Depends(read)], [Depends(write)]
    # writes authenticate before their body is read (see security.authenticating_first)
    write_api = APIRouter(route_class=authenticating_first(write))

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
    async def similar(
        svc: Svc,
        artist_id: ArtistId,
        by: Annotated[
            Literal["audio", "listening", "hybrid"] | None,
            Query(description="The similarity method; default: the configured one"),
        ] = None,
    ) -> Response:
        """The nearest artists, nearest first: one key lookup in the serving store. `by`
        picks a method's list (listening and hybrid: distance = 1 - score)."""
        if by is not None:
            found = use_cases.similar_by(svc.settings, artist_id, by, store=svc.serving())
            return Response(
                _NEIGHBOURS.dump_json(_NEIGHBOURS.validate_python(found)),
                media_type="application/json",
            )
        # On the event loop, not the thread pool: the lookup is one key read on an open
        # connection (tens of microseconds), and handing it to a thread costs more than the
        # read (the benchmark's figures). A store that hangs is bounded by its own timeout
        # (TUNELAKE_REQUEST_TIMEOUT); /health reports it.
        neighbours = use_cases.similar_to(svc.settings, artist_id, store=svc.serving())
        # validated by the use case already: serialised once, not validated again by FastAPI
        return Response(_NEIGHBOURS.dump_json(neighbours), media_type="application/json")

    @write_api.post(
        "/ingest-requests", status_code=202, dependencies=writes, tags=["ingest requests"]
    )
    def ask_for_ingest(svc: Svc, ask: IngestAsk, response: Response) -> IngestRequest:
        """Queue an artist for the next run (idempotent per normalised name: asking again
        while it is pending returns the same request)."""
        (queued,) = use_cases.request_ingest(svc.settings, [ask.artist], source="api")
        response.headers["Location"] = f"/ingest-requests/{queued.request_id}"
        return queued

    @write_api.post(
        "/ingest-requests/{request_id}/approval", dependencies=writes, tags=["ingest requests"]
    )
    def approve_ingest(
        svc: Svc, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]
    ) -> IngestRequest:
        """Let a request waiting for review (asked for in the chat, see
        TUNELAKE_CHAT_INGESTS) join the queue of the next run."""
        return use_cases.approve_ingest(svc.settings, request_id)

    api.include_router(write_api)

    # before /ingest-requests/{request_id}, which would take its path for an id
    @api.get("/ingest-requests/in-review", dependencies=writes, tags=["ingest requests"])
    def in_review(svc: Svc) -> list[IngestRequest]:
        """The requests waiting for approval, oldest first (token holders only: they are
        what chat users typed)."""
        return use_cases.ingest_requests(svc.settings, "review", warehouse=svc.warehouse())

    @api.get("/ingest-requests/{request_id}", dependencies=reads, tags=["ingest requests"])
    def ingest_request(
        svc: Svc, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]
    ) -> IngestRequest:
        return use_cases.ingest_request(svc.settings, request_id, warehouse=svc.warehouse())

    @api.get("/runs", dependencies=reads, tags=["runs"])
    def runs(
        svc: Svc,
        full: Authenticated,
        limit: Annotated[int, Query(ge=1, le=use_cases.MAX_PAGE_SIZE)] = 20,
    ) -> list[RunRecord]:
        """The newest runs; process ids, hosts and paths for a caller with the token only."""
        found = use_cases.recent_runs(svc.settings, limit, warehouse=svc.warehouse())
        return found if full else [public_view(r) for r in found]

    @api.get(
        "/runs/{run_id}",
        dependencies=reads,
        tags=["runs"],
        response_model=use_cases.RunQuality,
        responses={303: {"description": "A browser (Accept: text/html) goes to the run's page"}},
    )
    def run(
        svc: Svc,
        full: Authenticated,
        run_id: Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)],
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response | use_cases.RunQuality:
        """A run's steps and counts, and its dt's quarantined rows by reason (JSON; a
        browser is sent to the run's page on the dashboard)."""
        if _wants_html(accept):
            return RedirectResponse(f"/dashboard/runs/{quote(run_id, safe='')}", 303)
        found = use_cases.run_quality(svc.settings, run_id, warehouse=svc.warehouse())
        return found if full else found.model_copy(update={"run": public_view(found.run)})

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
