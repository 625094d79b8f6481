"""The use cases: one function each, called by every entry point (the CLI, the Dagster
definitions, the API and chatbot), so that each rule lives here once.

Each takes `Settings` and plain arguments and returns typed results (`RunResult` with its
`RunRecord`, `ArtistDocument`, `IngestRequest`, `SqlResult`, doctor `Check`s). Failures are
`TunelakeError`s (see `tunelake.errors`): an entry point prints their one line, the
automation retries the transient ones. Use cases that only read open the one store they read,
without migrating it and without creating the data directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel, TypeAdapter

from tunelake.config import Settings
from tunelake.doctor import Check, diagnose
from tunelake.errors import InputError, NotFound, is_expected
from tunelake.events.usecases import compact as events_compact
from tunelake.events.usecases import consume as events_consume
from tunelake.events.usecases import produce as events_produce
from tunelake.events.usecases import stop_embedded_broker as events_stop_broker
from tunelake.events.usecases import stream_status as events_status
from tunelake.listening import (  # the listening use cases live there; re-exported here
    artist_plays,
    listening,
    publish_trending,
    trending_artists,
    write_play_counts,
)
from tunelake.models import Artist, ArtistDocument, IngestRequest, RelatedArtist, TrackSummary
from tunelake.names import MAX_QUERY_LENGTH, checked_query
from tunelake.observability import RunRecord, StepFailed, one_line, records_from_rows
from tunelake.pipeline import outbox
from tunelake.pipeline import run as pipeline
from tunelake.pipeline.resources import (
    lake_options,
    reading_lake,
    reading_serving,
    reading_warehouse,
    require_lake,
)
from tunelake.pipeline.run import RunResult, StageOptions, StepProgress
from tunelake.recommendations import (  # the recommendation use cases; re-exported here
    METHODS as SIMILARITY_METHODS,
)
from tunelake.recommendations import (
    evaluate,
    evaluation_json,
    hybrid_view,
    similar_by,
    user_recommendations,
)
from tunelake.render import csv_text, json_text
from tunelake.storage.lake import Repaired, repair_lake
from tunelake.storage.lake.housekeeping import TableInfo, Vacuumed
from tunelake.storage.lake.legacy import Migrated, migrate
from tunelake.storage.serving.port import ServingStore
from tunelake.storage.warehouse.port import Warehouse

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_QUERY_LENGTH",
    "SIMILARITY_METHODS",
    "ArtistPage",
    "ArtistProfile",
    "Check",
    "Overview",
    "RejectCount",
    "RunQuality",
    "RunResult",
    "SqlResult",
    "StageOptions",
    "artist",
    "artist_plays",
    "artist_profile",
    "backfill",
    "doctor",
    "evaluate",
    "evaluation_json",
    "events_compact",
    "events_consume",
    "events_produce",
    "events_status",
    "events_stop_broker",
    "failure_summary",
    "genres",
    "health",
    "ingest",
    "ingest_request",
    "listening",
    "overview",
    "publish_trending",
    "recent_runs",
    "rejects",
    "request_ingest",
    "run",
    "run_detail",
    "run_quality",
    "run_stages",
    "search_artists",
    "similar",
    "similar_by",
    "similar_to",
    "sql",
    "top_tracks",
    "trending_artists",
    "user_recommendations",
    "write_play_counts",
]

T = TypeVar("T")

MAX_PAGE_SIZE = 100


def _quiet(step: str, done: int, total: int) -> None:
    return None


# The pipeline -----------------------------------------------------------------------------


def run_stages(
    settings: Settings,
    dt: date,
    stages: Sequence[str] = pipeline.STAGES,
    options: StageOptions | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """Some stages of the pipeline for dt (land, curate, similarity, publish), as one recorded
    run under the locks and the current-state rule: what every entry point calls."""
    return pipeline.run_stages(settings, dt, stages, options, progress)


def run(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str] | None = None,
    dump_mapping: Mapping[str, str] | None = None,
    dump_delimiter: str | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """The main job for dt: the given queries (names or ids; None: the source's default
    seeds) and every pending ingest request. Raises StepFailed naming the failed step;
    the run record and the report are written either way."""
    if queries is not None and not queries:
        raise InputError("no artists to run: the seeds given are empty")
    return pipeline.run_pipeline(
        settings,
        dt=dt,
        queries=queries,
        dump_mapping=dict(dump_mapping or {}),
        dump_delimiter=dump_delimiter,
        progress=progress,
    )


def backfill(
    settings: Settings,
    *,
    start: date,
    end: date,
    dump_mapping: Mapping[str, str] | None = None,
    progress: StepProgress = _quiet,
) -> list[RunResult]:
    """Re-derive every dt in [start, end] that has raw data, from the raw zone alone; a dump's
    rows with `dump_mapping` instead of the mapping their run used, if one is given. A dt
    older than the newest curated one leaves the warehouse and the serving store alone."""
    results = pipeline.backfill(
        settings, start=start, end=end, dump_mapping=dump_mapping, progress=progress
    )
    if not results:
        raise NotFound(f"no raw data between {start} and {end}: nothing to backfill")
    return results


def failure_summary(failure: StepFailed) -> str:
    """One line for a failed run: the run, the step, the cause, and where its quarantined
    rows and its report are."""
    run = failure.run
    if run is None:
        return str(failure)
    parts = [f"run {run.run_id} failed at step {failure.step}: {one_line(failure.cause)}"]
    quarantined = {
        name: counts["quarantined"]
        for step in run.steps
        if step.step == "validate"
        for name, counts in step.details.items()
        if isinstance(counts, dict) and counts.get("quarantined")
    }
    if quarantined:
        listed = ", ".join(f"{n} {name}" for name, n in quarantined.items())
        first = next(iter(quarantined))
        parts.append(
            f'quarantined: {listed} (see tunelake sql "SELECT * FROM quarantine_{first} '
            f"WHERE dt = DATE '{run.dt}'\")"
        )
    if "report" in run.outputs:
        parts.append(f"report: {run.outputs['report']}")
    if not is_expected(failure):
        where = run.outputs.get("logs", "the log file")
        parts.append(f"this is a bug in tunelake: the traceback is in {where}")
    return "; ".join(parts)


# Ingest requests (the outbox the automation consumes) -------------------------------------


def request_ingest(
    settings: Settings, queries: Sequence[str], *, source: str, review: bool = False
) -> list[IngestRequest]:
    """Queue ingest requests for artist names or ids, without running anything. Idempotent
    per normalised name: a query pending already (in any case or spacing) is not queued
    again, and its existing request is returned. `source` says who asked (cli, api, chat);
    `review`: the request waits for `approve_ingest` before the automation sees it."""
    rows = outbox.queue(settings, queries, source=source, review=review)
    return [IngestRequest.model_validate(r) for r in rows]


def approve_ingest(settings: Settings, request_id: int) -> IngestRequest:
    """Let a request that waits for review join the queue (approving a pending one again
    changes nothing); a request already resolved cannot be approved."""
    outbox.approve(settings, request_id)
    found = ingest_request(settings, request_id)
    if found.status != "pending":
        raise InputError(f"ingest request {request_id} is {found.status}: nothing to approve")
    return found


def ingest_requests(
    settings: Settings, status: str, *, warehouse: Warehouse | None = None
) -> list[IngestRequest]:
    """The ingest requests in one state, oldest first (e.g. those waiting for review)."""
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        rows = warehouse.read("ingest_requests", {"status": status}).to_pylist()
    return [IngestRequest.model_validate(r) for r in rows]


def ingest(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str],
    dump_mapping: Mapping[str, str] | None = None,
    dump_delimiter: str | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """Ad hoc: queue the queries as ingest requests, then run dt for them now, added to the
    current state (its artists are resolved along with them, so every current artist's
    neighbours are computed over the whole set)."""
    pipeline.check_dt(dt, "dt")  # before the requests are queued, not after
    request_ingest(settings, queries, source=settings.source)
    options = StageOptions(
        kind="ingest",
        queries=list(queries),
        add_to_current=True,
        dump_mapping=dict(dump_mapping or {}),
        dump_delimiter=dump_delimiter,
    )
    return pipeline.run_stages(settings, dt, pipeline.STAGES, options, progress)


def ingest_request(
    settings: Settings, request_id: int, *, warehouse: Warehouse | None = None
) -> IngestRequest:
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        rows = warehouse.read("ingest_requests", {"request_id": request_id}).to_pylist()
    if not rows:
        raise NotFound(f"no ingest request {request_id}")
    return IngestRequest.model_validate(rows[0])


# Reading stores -----------------------------------------------------------------------------
# A read use case opens the one store it reads; a long-lived caller (the API) passes the store
# it keeps open instead, so that a lookup is one key read, not a connection.


@contextmanager
def _given_or(given: T | None, opening: Callable[[], AbstractContextManager[T]]) -> Iterator[T]:
    """The store the caller keeps open, or one opened for this call only."""
    if given is not None:
        yield given
        return
    with opening() as opened:
        yield opened


# The serving store ------------------------------------------------------------------------


def similar(
    settings: Settings, name_or_id: str, *, store: ServingStore | None = None
) -> list[ArtistDocument]:
    """The documents of the artists called name_or_id (case, spacing and Unicode form do not
    matter; several artists may share a name), or of the artist with that id; each holds its
    nearest artists. NotFound says how to ingest it."""
    query = checked_query(name_or_id, "the artist name or id")
    with _given_or(store, lambda: reading_serving(settings)) as store:
        found = store.find_by_name(query)
        if not found:
            by_id = store.get(query)
            found = [by_id] if by_id else []
    if not found:
        raise NotFound(
            f"no artist named {query!r} in the serving store: "
            f"run `tunelake ingest --artist {query!r}`"
        )
    return [ArtistDocument.model_validate(doc) for doc in found]


def _document(settings: Settings, artist_id: str, store: ServingStore | None) -> dict[str, Any]:
    """One key lookup in the serving store."""
    with _given_or(store, lambda: reading_serving(settings)) as store:
        doc = store.get(artist_id)
    if doc is None:
        raise NotFound(f"no artist {artist_id!r} in the serving store")
    return doc


def artist(
    settings: Settings, artist_id: str, *, store: ServingStore | None = None
) -> ArtistDocument:
    return ArtistDocument.model_validate(_document(settings, artist_id, store))


def top_tracks(
    settings: Settings, artist_id: str, *, store: ServingStore | None = None
) -> tuple[TrackSummary, ...]:
    return artist(settings, artist_id, store=store).top_tracks


_NEIGHBOURS = TypeAdapter(tuple[RelatedArtist, ...])


def similar_to(
    settings: Settings, artist_id: str, *, store: ServingStore | None = None
) -> tuple[RelatedArtist, ...]:
    """The nearest artists of an artist, nearest first. The hot path of the API: only the
    neighbours are validated, not the whole document."""
    doc = _document(settings, artist_id, store)
    return _NEIGHBOURS.validate_python(doc.get("related_artists") or ())


class ArtistPage(BaseModel):
    items: list[Artist]
    total: int
    """How many artists match in all."""
    limit: int
    offset: int


def search_artists(
    settings: Settings,
    text: str,
    *,
    limit: int = 20,
    offset: int = 0,
    warehouse: Warehouse | None = None,
) -> ArtistPage:
    """Artists whose name contains text, by name: one page of at most MAX_PAGE_SIZE."""
    query = checked_query(text, "the search text")
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise InputError(
            f"a page holds 1 to {MAX_PAGE_SIZE} artists from offset 0 on, not {limit} from {offset}"
        )
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        rows, total = warehouse.search_artists(query, limit, offset)
    return ArtistPage(
        items=[Artist.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


# Run records ------------------------------------------------------------------------------


def recent_runs(
    settings: Settings, limit: int = 20, *, warehouse: Warehouse | None = None
) -> list[RunRecord]:
    """The newest runs, one record each with its steps; a run whose process died while it
    was running is `abandoned`."""
    if limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        return records_from_rows(warehouse.runs(limit))


def run_detail(settings: Settings, run_id: str, *, warehouse: Warehouse | None = None) -> RunRecord:
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        records = records_from_rows(warehouse.run(run_id))
    if not records:
        raise NotFound(f"no run {run_id!r}: `tunelake runs` lists the recent ones")
    return records[0]


class RejectCount(BaseModel):
    """Rows of a dataset quarantined for one reason (several failed rules: joined by "; ")."""

    dataset: str
    dt: date
    reason: str
    rows: int


def rejects(settings: Settings, dt: date | None = None) -> list[RejectCount]:
    """Quarantined rows by dataset and reason, per dt (or for one dt), from the lake's
    `quarantine_<dataset>` views: newest dt first, most rows first."""
    from tunelake.engines.sql import QUARANTINE_PREFIX, SqlEngine

    engine = SqlEngine(reading_lake(settings))
    try:
        found = []
        for view in engine.views():
            if not view.startswith(QUARANTINE_PREFIX):
                continue
            where, params = ("WHERE dt = ?", [dt]) if dt else ("", [])
            table = engine.query(
                f'SELECT dt, reason, COUNT(*) AS "rows" FROM "{view}" {where} GROUP BY dt, reason',
                params,
            )
            dataset = view.removeprefix(QUARANTINE_PREFIX)
            found += [RejectCount(dataset=dataset, **r) for r in table.to_pylist()]
    finally:
        engine.close()
    return sorted(found, key=lambda r: (-r.dt.toordinal(), -r.rows, r.dataset, r.reason))


class RunQuality(BaseModel):
    """A run with the rows its dt has in quarantine, by reason (the dt's last validation)."""

    run: RunRecord
    rejects: list[RejectCount]


def run_quality(
    settings: Settings, run_id: str, *, warehouse: Warehouse | None = None
) -> RunQuality:
    record = run_detail(settings, run_id, warehouse=warehouse)
    try:
        found = rejects(settings, record.dt)
    except NotFound:  # a run that failed before the lake had anything
        found = []
    return RunQuality(run=record, rejects=found)


# Dashboard aggregates ---------------------------------------------------------------------


class Overview(BaseModel):
    artists: int
    tracks: int
    latest_dt: date | None
    """The newest dt a run completed."""
    runs: list[RunRecord]


def overview(settings: Settings, *, warehouse: Warehouse | None = None) -> Overview:
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        runs = records_from_rows(warehouse.runs(10))
        artists, tracks = warehouse.count("artists"), warehouse.count("tracks")
    done = [r.dt for r in runs if r.status == "ok"]
    return Overview(artists=artists, tracks=tracks, latest_dt=max(done, default=None), runs=runs)


def genres(
    settings: Settings, limit: int = 30, *, warehouse: Warehouse | None = None
) -> list[tuple[str, int]]:
    """The genres with the most artists, with their number of artists."""
    with _given_or(warehouse, lambda: reading_warehouse(settings)) as warehouse:
        return warehouse.genre_counts(limit)


class ArtistProfile(BaseModel):
    """An artist's normalised audio-feature vector (as the similarity step compares them)
    beside the mean of its neighbours' vectors, from the artist_vectors partition of the dt
    its document was published for."""

    artist: ArtistDocument
    features: list[str]
    values: list[float | None]
    neighbours: list[float | None]


def artist_profile(
    settings: Settings, artist_id: str, *, store: ServingStore | None = None
) -> ArtistProfile:
    from tunelake.engines.sql import SqlEngine

    doc = hybrid_view(artist(settings, artist_id, store=store))  # the dashboard shows the hybrid
    ids = [artist_id, *(r.artist_id for r in doc.related_artists)]
    vectors: dict[str, list[float]] = {}
    try:
        engine = SqlEngine(reading_lake(settings))
    except NotFound:  # the serving store came from elsewhere: no vectors to show
        engine = None
    if engine is not None:
        try:
            # the partition the document was published from: its neighbours are of that dt
            table = engine.query(
                "SELECT artist_id, vector FROM artist_vectors WHERE list_contains(?, artist_id) "
                "AND dt = COALESCE(CAST(? AS DATE), (SELECT MAX(dt) FROM artist_vectors))",
                [ids, doc.dt],
            )
        finally:
            engine.close()
        vectors = dict(
            zip(table["artist_id"].to_pylist(), table["vector"].to_pylist(), strict=True)
        )
    features = list(settings.vector_features)
    unknown: list[float | None] = [None] * len(features)
    others = [vectors[i] for i in ids[1:] if i in vectors]
    return ArtistProfile(
        artist=doc,
        features=features,
        values=list(vectors.get(artist_id) or unknown),
        neighbours=[sum(column) / len(others) for column in zip(*others, strict=True)]
        if others
        else unknown,
    )


# SQL over the lake ------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlResult:
    """A query's answer with every column kept, in order, duplicates included."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    warnings: list[str] = field(default_factory=list)
    """Tables left out because they cannot be read, each named with its file."""

    @classmethod
    def of(cls, table: pa.Table, warnings: Sequence[str] = ()) -> SqlResult:
        # by position: to_pylist() would fold columns that share a name into one key
        columns = [c.to_pylist() for c in table.columns]
        return cls(list(table.column_names), list(zip(*columns, strict=True)), list(warnings))

    def to_csv(self) -> str:
        return csv_text(self.columns, self.rows)

    def to_json(self) -> str:
        return json_text(self.columns, self.rows)


def sql(
    settings: Settings, query: str, *, as_of: str | None = None, engine: str = "duckdb"
) -> SqlResult:
    """Run a read-only query over the lake's views (one per dataset, `dt` a column), as the
    lake is now or, with `as_of` (an ISO time or a snapshot id), as it was then. It needs the
    lake alone: a broken warehouse or serving store does not stop it, and a table that cannot
    be read is left out with a warning while the others answer. `engine`: duckdb (in
    process) or spark (Spark SQL over the same views)."""
    from tunelake.engines.sql import open_sql, parse_as_of  # DuckDB: only SQL needs it

    if not query.strip():
        raise InputError(
            "the query is empty: give a SQL statement, e.g. SELECT COUNT(*) FROM artists"
        )
    lake_sql = open_sql(
        reading_lake(settings), engine, settings.spark_master, as_of=parse_as_of(as_of)
    )
    try:
        return SqlResult.of(lake_sql.query(query), lake_sql.problems)
    finally:
        lake_sql.close()


# The lake's tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class LakeInfo:
    url: str
    catalog_url: str
    """Password masked."""
    tables: list[TableInfo]


def lake_info(settings: Settings) -> LakeInfo:
    """Tables, snapshots, and the rows, files and bytes of each current snapshot."""
    lake = reading_lake(settings)
    return LakeInfo(lake.url, lake.catalog_url, lake.info())


def lake_vacuum(settings: Settings, *, retention_days: float | None = None) -> list[Vacuumed]:
    """Expire snapshots past the retention (the newest always kept) and delete files nothing
    references."""
    days = settings.lake_snapshot_retention_days if retention_days is None else retention_days
    if days < 0:
        raise InputError(f"the retention must be 0 days or more, not {days}")
    return reading_lake(settings).vacuum(timedelta(days=days))


def lake_repair(settings: Settings) -> Repaired:
    """Rebuild the lake's catalog from the tables' newest readable metadata files."""
    require_lake(settings)
    return repair_lake(settings.resolved_lake_url, lake_options(settings))


def lake_migrate(settings: Settings) -> Migrated:
    """Rebuild a lake of the pre-Iceberg layout as Iceberg tables (equal counts checked)."""
    return migrate(reading_lake(settings, allow_legacy=True))


# Checks -----------------------------------------------------------------------------------


def doctor(settings: Settings) -> list[Check]:
    """Every backend of the profile: reachable or not, and the fix."""
    return diagnose(settings)


def health(settings: Settings) -> list[Check]:
    """The stores the service reads (warehouse, lake, serving store): reachable or not."""
    return diagnose(settings, roles=("warehouse", "lake", "serving"))
