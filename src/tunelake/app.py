"""The use cases: one function each, called by every entry point (the CLI, the Dagster
definitions, the API and chatbot), so that each rule lives here once.

Each takes `Settings` and plain arguments and returns typed results (`RunResult` with its
`RunRecord`, `ArtistDocument`, `IngestRequest`, `SqlResult`, doctor `Check`s). Failures are
`TunelakeError`s (see `tunelake.errors`): an entry point prints their one line, the
automation retries the transient ones. Use cases that only read open the one store they read,
without migrating it and without creating the data directory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from tunelake.config import Settings
from tunelake.doctor import Check, diagnose
from tunelake.errors import InputError, NotFound
from tunelake.models import ArtistDocument, IngestRequest
from tunelake.names import normalise_name
from tunelake.observability import RunRecord, StepFailed, one_line, records_from_rows
from tunelake.pipeline import run as pipeline
from tunelake.pipeline.resources import (
    open_resources,
    reading_lake,
    reading_serving,
    reading_warehouse,
)
from tunelake.pipeline.run import RunResult, StepProgress

__all__ = [
    "Check",
    "RunResult",
    "SqlResult",
    "artist",
    "backfill",
    "doctor",
    "failure_summary",
    "ingest",
    "ingest_request",
    "recent_runs",
    "request_ingest",
    "run",
    "run_detail",
    "similar",
    "sql",
]


def _quiet(step: str, done: int, total: int) -> None:
    return None


# The pipeline -----------------------------------------------------------------------------


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
    rows with `dump_mapping` instead of the mapping their run used, if one is given."""
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
    return "; ".join(parts)


# Ingest requests (the outbox the automation consumes) -------------------------------------


def request_ingest(
    settings: Settings, queries: Sequence[str], *, source: str
) -> list[IngestRequest]:
    """Queue ingest requests for artist names or ids, without running anything. Idempotent
    per normalised name: a query pending already (in any case or spacing) is not queued
    again, and its existing request is returned. `source` says who asked (cli, api, chat)."""
    wanted = [q.strip() for q in queries]
    if not wanted or not all(wanted):
        raise InputError("an ingest request needs a non-empty artist name or id")
    with open_resources(settings) as res:
        pending = {normalise_name(r["query"]): r for r in res.warehouse.pending_ingest_requests()}
        new = [q for q in dict.fromkeys(wanted) if normalise_name(q) not in pending]
        if new:
            res.warehouse.add_ingest_requests(new, source=source)
            pending = {
                normalise_name(r["query"]): r for r in res.warehouse.pending_ingest_requests()
            }
    return [IngestRequest.model_validate(pending[normalise_name(q)]) for q in dict.fromkeys(wanted)]


def ingest(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str],
    dump_mapping: Mapping[str, str] | None = None,
    dump_delimiter: str | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """Ad hoc: queue the queries as ingest requests, then run dt for them now."""
    request_ingest(settings, queries, source=settings.source)
    return run(
        settings,
        dt=dt,
        queries=queries,
        dump_mapping=dump_mapping,
        dump_delimiter=dump_delimiter,
        progress=progress,
    )


def ingest_request(settings: Settings, request_id: int) -> IngestRequest:
    with reading_warehouse(settings) as warehouse:
        rows = warehouse.read("ingest_requests", {"request_id": request_id}).to_pylist()
    if not rows:
        raise NotFound(f"no ingest request {request_id}")
    return IngestRequest.model_validate(rows[0])


# The serving store ------------------------------------------------------------------------


def similar(settings: Settings, name_or_id: str) -> list[ArtistDocument]:
    """The documents of the artists called name_or_id (case, spacing and Unicode form do not
    matter; several artists may share a name), or of the artist with that id; each holds its
    nearest artists. NotFound says how to ingest it."""
    query = name_or_id.strip()
    if not query:
        raise InputError("give an artist name or id")
    with reading_serving(settings) as store:
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


def artist(settings: Settings, artist_id: str) -> ArtistDocument:
    with reading_serving(settings) as store:
        doc = store.get(artist_id)
    if doc is None:
        raise NotFound(f"no artist {artist_id!r} in the serving store")
    return ArtistDocument.model_validate(doc)


# Run records ------------------------------------------------------------------------------


def recent_runs(settings: Settings, limit: int = 20) -> list[RunRecord]:
    """The newest runs, one record each with its steps; a run whose process died while it
    was running is `abandoned`."""
    if limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    with reading_warehouse(settings) as warehouse:
        return records_from_rows(warehouse.runs(limit))


def run_detail(settings: Settings, run_id: str) -> RunRecord:
    with reading_warehouse(settings) as warehouse:
        records = records_from_rows(warehouse.run(run_id))
    if not records:
        raise NotFound(f"no run {run_id!r}: `tunelake runs` lists the recent ones")
    return records[0]


# SQL over the lake ------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlResult:
    """A query's answer with every column kept, in order, duplicates included."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    @classmethod
    def of(cls, table: pa.Table) -> SqlResult:
        # by position: to_pylist() would fold columns that share a name into one key
        columns = [c.to_pylist() for c in table.columns]
        return cls(list(table.column_names), list(zip(*columns, strict=True)))

    def unique_columns(self) -> list[str]:
        """The names with repeats made visible (name, name_1, …), for formats keyed by name."""
        unique: list[str] = []
        for name in self.columns:
            candidate, n = name, 0
            while candidate in unique:
                n += 1
                candidate = f"{name}_{n}"
            unique.append(candidate)
        return unique

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()

    def to_json(self) -> str:
        keys = self.unique_columns()
        records = [dict(zip(keys, row, strict=True)) for row in self.rows]
        return json.dumps(records, default=_json_value, ensure_ascii=False, indent=2)


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def sql(settings: Settings, query: str) -> SqlResult:
    """Run a read-only query over the lake's views (one per dataset, `dt` a column). It
    needs the lake alone: a broken warehouse or serving store does not stop it."""
    from tunelake.engines.sql import SqlEngine  # DuckDB: only this use case needs it

    if not query.strip():
        raise InputError(
            "the query is empty: give a SQL statement, e.g. SELECT COUNT(*) FROM artists"
        )
    return SqlResult.of(SqlEngine(reading_lake(settings)).query(query))


# Checks -----------------------------------------------------------------------------------


def doctor(settings: Settings) -> list[Check]:
    """Every backend of the profile: reachable or not, and the fix."""
    return diagnose(settings)
