"""The warehouse port: relational current state. One adapter per backend family.

Tables (see DESIGN.md, "Data model"): artists, artist_genres, tracks, top_tracks,
audio_features, related_artists, ingest_requests, pipeline_runs.
Rows come and go as `pyarrow.Table`s whose columns are the table's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa


class Warehouse(Protocol):
    url: str
    """The SQLAlchemy URL, with any password masked (safe to print)."""

    def migrate(self) -> None:
        """Create or upgrade every table to the newest schema version (idempotent)."""

    def upsert(self, table: str, rows: pa.Table) -> int:
        """Insert rows, updating those whose primary key exists. Bulk, one transaction."""

    def replace_children(self, table: str, parent: str, rows: pa.Table) -> int:
        """For every distinct value of column `parent` in rows, delete that parent's
        existing rows and insert the given ones, in one transaction (e.g. an artist's
        top tracks or neighbour set)."""

    def read(self, table: str, where: dict[str, Any] | None = None) -> pa.Table:
        """Rows of a table, filtered by column equality."""

    def count(self, table: str) -> int: ...

    def add_ingest_requests(self, queries: Sequence[str], source: str) -> int:
        """Queue ingest requests (artist names or ids); a query already pending is not
        queued twice. Returns how many were added."""

    def pending_ingest_requests(self) -> list[dict[str, Any]]: ...

    def resolve_ingest_request(
        self, request_id: int, status: str, artist_id: str | None, detail: str | None
    ) -> None:
        """status: done, ambiguous, not_found or failed."""

    def record_run(self, record: dict[str, Any]) -> None:
        """Upsert one pipeline_runs row (keyed by run_id and step)."""

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent run records, newest first."""

    def close(self) -> None: ...
