"""Listening on the service: `GET /trending` (the list the automation publishes to the serving
store), `GET /artists/{id}/plays?from=&to=` (plays per hour or day, from the lake's `plays`),
and the dashboard's Listening page, which the browser reloads by itself (a `Refresh` header:
no JavaScript) so that it follows the plays as they arrive."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import BeforeValidator

from tunelake import app as use_cases
from tunelake import charts
from tunelake.listening import ArtistPlays, Listening, Trending
from tunelake.service.dashboard import show
from tunelake.service.problems import PROBLEMS
from tunelake.service.routes import ArtistId, Svc
from tunelake.service.security import Guard

REFRESH_SECONDS = 30
"""How often the Listening page reloads itself."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601(value: object) -> object:
    # pydantic also reads a bare number as seconds since 1970; the schema promises ISO 8601.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("an ISO 8601 date or date-time, e.g. 2026-12-05T10:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601)]


def _chart(data: Listening) -> Markup | None:
    if not any(c.plays for c in data.per_hour):
        return None
    return charts.timeline(
        [c.start for c in data.per_hour],
        [c.plays for c in data.per_hour],
        title="Plays per hour",
        ylabel="plays",
    )


def router(read: Guard) -> APIRouter:
    api = APIRouter(responses=PROBLEMS, dependencies=[Depends(read)])

    @api.get("/trending", tags=["listening"])
    def trending(svc: Svc) -> Trending:
        """The trending artists (plays in the last hour against their usual rate), as last
        published; 404 until the automation has published a list."""
        return use_cases.trending_artists(svc.settings, store=svc.serving())

    @api.get("/artists/{artist_id}/plays", tags=["listening", "artists"])
    def artist_plays(
        svc: Svc,
        artist_id: ArtistId,
        start: Annotated[
            IsoDateTime | None,
            Query(alias="from", description="ISO 8601; no offset means UTC. Default: to - 24 h"),
        ] = None,
        end: Annotated[
            IsoDateTime | None, Query(alias="to", description="Exclusive. Default: now")
        ] = None,
    ) -> ArtistPlays:
        """The artist's plays per hour (ranges up to 2 days) or per day (up to 92 days)."""
        return use_cases.artist_plays(svc.settings, artist_id, start, end, lake=svc.lake())

    @api.get("/dashboard/listening", response_class=HTMLResponse, include_in_schema=False)
    def page(svc: Svc) -> HTMLResponse:
        def build() -> dict[str, Any]:
            data = use_cases.listening(svc.settings, lake=svc.lake(), store=svc.serving())
            return {"data": data, "chart": _chart(data), "refresh": REFRESH_SECONDS}

        response = show("dashboard/listening.html", build)
        response.headers["Refresh"] = str(REFRESH_SECONDS)
        return response

    return api
