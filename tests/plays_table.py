"""Plays for the listening tests, as the consumer stores them: rows of the `plays` contract
(tunelake.events.schema), made small and by hand, and written to the lake's Iceberg table
`plays` (partitioned by day(ts)) with pyiceberg."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import pyarrow as pa

from tunelake.events.schema import STORED_SCHEMA
from tunelake.events.table import plays_table
from tunelake.storage.lake.iceberg_lake import IcebergLake


def plays(rows: Iterable[tuple[str, datetime]]) -> pa.Table:
    """A table of STORED_SCHEMA with one play per (artist_id, ts)."""
    pairs = list(rows)
    n = len(pairs)
    received = datetime.now(UTC)
    columns = {
        "event_id": [str(uuid.uuid4()) for _ in pairs],
        "user_id": [f"user-{i % 7}" for i in range(n)],
        "session_id": [f"session-{i % 11}" for i in range(n)],
        "track_id": [f"track-{a}" for a, _ in pairs],
        "artist_id": [a for a, _ in pairs],
        "ts": [t for _, t in pairs],
        "ms_played": [180_000] * n,
        "skipped": [False] * n,
        "context": ["album"] * n,
        "device": ["mobile"] * n,
        "country": ["KR"] * n,
        "received_at": [received] * n,
    }
    return pa.table(columns, schema=STORED_SCHEMA)


def many(artist_id: str, at: datetime, count: int) -> list[tuple[str, datetime]]:
    return [(artist_id, at)] * count


def append_plays(lake: IcebergLake, table: pa.Table) -> None:
    """Append to `<namespace>.plays`, created as the consumer creates it."""
    plays_table(lake).append(table)
