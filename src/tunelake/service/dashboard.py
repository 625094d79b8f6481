"""The dashboard: server-rendered pages over the same use cases as the API, drawn with the
templates the run report uses and charts rendered to inline SVG on the server, so it works
offline with no JavaScript at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path as Path_
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup

from tunelake import app as use_cases
from tunelake import charts
from tunelake.errors import InputError, NotFound
from tunelake.render import path_segment, render
from tunelake.report import genre_chart
from tunelake.service.routes import MAX_LENGTH, MAX_OFFSET, Svc, public_view
from tunelake.service.security import Authenticated, Guard
from tunelake.service.state import NothingPublished

PAGE_SIZE = 25
REJECT_BARS = 20


def show(template: str, build: Callable[[], dict[str, Any]]) -> HTMLResponse:
    """The page, or a page that says why there is none (nothing run yet, no such artist)."""
    try:
        context = build()
    except NothingPublished as exc:
        return _message("No data yet", str(exc), 503)
    except NotFound as exc:
        return _message("Not found", str(exc), 404)
    except InputError as exc:
        return _message("Cannot show that", str(exc), 400)
    return HTMLResponse(render(template, **context))


def _message(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(render("dashboard/message.html", title=title, message=message), status)


def _rejects_chart(rejects: list[use_cases.RejectCount]) -> Markup | None:
    shown = rejects[:REJECT_BARS]
    if not shown:
        return None
    labels = [f"{r.dt} · {r.dataset} · {r.reason}" for r in shown]
    return charts.bars(
        labels, [r.rows for r in shown], title="Quarantined rows by reason", xlabel="rows"
    )


RunId = Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)]


def router(read: Guard) -> APIRouter:
    ui = APIRouter(include_in_schema=False, dependencies=[Depends(read)])

    @ui.get("/", response_class=HTMLResponse)
    def overview(svc: Svc) -> HTMLResponse:
        return show(
            "dashboard/overview.html",
            lambda: {"data": use_cases.overview(svc.settings, warehouse=svc.warehouse())},
        )

    @ui.get("/dashboard/genres", response_class=HTMLResponse)
    def genres(svc: Svc) -> HTMLResponse:
        def build() -> dict[str, Any]:
            counts = use_cases.genres(svc.settings, warehouse=svc.warehouse())
            return {"counts": counts, "chart": genre_chart(counts)}

        return show("dashboard/genres.html", build)

    @ui.get("/dashboard/artists", response_class=HTMLResponse)
    def search(
        svc: Svc,
        q: Annotated[str, Query(max_length=MAX_LENGTH)] = "",
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> HTMLResponse:
        def build() -> dict[str, Any]:
            found = None
            if q.strip():
                found = use_cases.search_artists(
                    svc.settings, q, limit=PAGE_SIZE, offset=offset, warehouse=svc.warehouse()
                )
            return {"q": q, "found": found}

        return show("dashboard/search.html", build)

    @ui.get("/dashboard/artists/{artist_id}", response_class=HTMLResponse)
    def artist(
        svc: Svc, artist_id: Annotated[str, Path(min_length=1, max_length=MAX_LENGTH)]
    ) -> HTMLResponse:
        def build() -> dict[str, Any]:
            profile = use_cases.artist_profile(svc.settings, artist_id, store=svc.serving())
            chart = None
            if any(v is not None for v in profile.values):
                chart = charts.profile(
                    profile.features,
                    {"this artist": profile.values, "its neighbours (mean)": profile.neighbours},
                    title="Audio-feature profile (normalised, as the similarity compares them)",
                )
            return {"profile": profile, "doc": profile.artist, "chart": chart}

        return show("dashboard/artist.html", build)

    @ui.get("/dashboard/quality", response_class=HTMLResponse)
    def quality(svc: Svc) -> HTMLResponse:
        def build() -> dict[str, Any]:
            runs = use_cases.recent_runs(svc.settings, 50, warehouse=svc.warehouse())
            try:
                rejects = use_cases.rejects(svc.settings)
            except NotFound:  # no lake yet: nothing was ever quarantined
                rejects = []
            runs_of: dict[Any, list[str]] = {}
            for r in runs:
                runs_of.setdefault(r.dt, []).append(r.run_id)
            return {
                "runs": runs,
                "rejects": rejects,
                "runs_of": runs_of,
                "chart": _rejects_chart(rejects),
            }

        return show("dashboard/quality.html", build)

    @ui.get("/dashboard/runs/{run_id}", response_class=HTMLResponse)
    def run(svc: Svc, run_id: RunId, full: Authenticated) -> HTMLResponse:
        def build() -> dict[str, Any]:
            found = use_cases.run_quality(svc.settings, run_id, warehouse=svc.warehouse())
            record = found.run if full else public_view(found.run)
            report = None
            if full and "report" in found.run.outputs:
                report = f"/dashboard/runs/{path_segment(run_id)}/report"
            written = bool(found.run.outputs.get("report"))
            return {"run": record, "rejects": found.rejects, "report": report, "written": written}

        return show("dashboard/run.html", build)

    @ui.get("/dashboard/runs/{run_id}/report")
    def report(svc: Svc, run_id: RunId, full: Authenticated) -> Response:
        """The HTML report the run wrote; it names paths on the server: token holders only."""
        if not full:
            return _message("Not shown", "the report is shown to callers with the API token", 401)
        record = use_cases.run_detail(svc.settings, run_id, warehouse=svc.warehouse())
        where = record.outputs.get("report")
        if not where or not Path_(where).is_file():
            return _message("Not found", f"run {run_id} has no report on this server", 404)
        return FileResponse(where, media_type="text/html")

    return ui
