"""The warehouse port: relational current state. One adapter per backend family.

Tables (see DESIGN.md, "Data model"): artists, artist_genres, tracks, top_tracks,
audio_features, related_artists, ingest_requests, pipeline_runs.
Rows come and go as `pyarrow.Table`s whose columns are the table's columns.
Bad input (unknown table or column, a missing key, a value the column cannot hold) raises
ValueError with a message naming the table and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa

from tunelake.errors import BackendUnavailable


class WarehouseUnavailable(BackendUnavailable):
    """The warehouse database cannot be reached. The message names the URL, password masked,
    and the cause."""

    def __init__(self, url: str, cause: str):
        super().__init__(f"warehouse {url} is unavailable: {cause}")
        self.url = url


class Warehouse(Protocol):
    url: str
    """The SQLAlchemy URL, with any password masked (safe to print)."""

    def migrate(self) -> None:
        """Create or upgrade every table to the newest schema version (idempotent)."""

    def schema_revision(self) -> str | None:
        """The migration the database is at; None before the first `migrate`. Reads only."""

    def upsert(self, table: str, rows: pa.Table) -> int:
        """Insert rows, updating those whose primary key exists. Bulk, one transaction.
        Columns left out keep their stored values; if a key appears twice, the last row wins.
        For artists, a `genres` list column also replaces those artists' artist_genres rows
        (a null list means unknown: their genres are kept). Returns the rows written."""

    def replace_children(self, table: str, parent: str, rows: pa.Table) -> int:
        """For every distinct value of column `parent` in rows, delete that parent's
        existing rows and insert the given ones, in one transaction (e.g. an artist's
        top tracks or neighbour set)."""

    def read(self, table: str, where: dict[str, Any] | None = None) -> pa.Table:
        """Rows of a table in primary-key order, filtered by column equality (a None value
        matches NULL). Unknown keys give an empty table with the table's schema."""

    def count(self, table: str) -> int: ...

    def search_artists(
        self, text: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the artists whose name contains `text` (case-insensitive for ASCII
        everywhere, and for every script where the database folds case), ordered by name then
        id: dicts of artist_id, name, popularity, followers, image_url, genres (a sorted list);
        and how many match in all. `%` and `_` in text match themselves."""

    def genre_counts(self, limit: int) -> list[tuple[str, int]]:
        """The `limit` genres with the most artists, most first, ties by genre."""

    def add_ingest_requests(
        self, queries: Sequence[str], source: str, status: str = "pending"
    ) -> int:
        """Queue ingest requests (artist names or ids), `pending` or waiting for `review`; a
        query already pending or in review is not queued twice. Returns how many were added."""

    def approve_ingest_request(self, request_id: int) -> bool:
        """Move a request from `review` to `pending`; False when it is not in review."""

    def pending_ingest_requests(self) -> list[dict[str, Any]]:
        """Pending requests, oldest first: dicts of request_id, query, source, status,
        artist_id, detail, created_at, updated_at."""

    def resolve_ingest_request(
        self, request_id: int, status: str, artist_id: str | None, detail: str | None
    ) -> None:
        """status: done, ambiguous, not_found or failed. Raises LookupError for an unknown
        request_id. A resolved query may be queued again."""

    def record_run(self, record: dict[str, Any]) -> None:
        """Upsert one pipeline_runs row (keyed by run_id and step; status required). Fields
        left out keep their stored values; datetimes are stored as UTC; details is JSON text or
        a JSON-serialisable value."""

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The `run` rows of the `limit` newest runs (newest start first) and the step rows
        of those runs; details parsed from JSON."""

    def run(self, run_id: str) -> list[dict[str, Any]]:
        """Every row of one run (its `run` row and its steps); empty for an unknown id."""

    def close(self) -> None: ...
