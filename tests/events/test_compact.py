"""Compaction of plays on a real Iceberg lake (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from tunelake.events import compact as compaction
from tunelake.events import table as tables
from tunelake.events.schema import PLAYS, STORED_SCHEMA
from tunelake.storage.lake import IcebergLake, open_lake

DAY = datetime(2026, 11, 30, tzinfo=UTC)


def _rows(first: int, n: int) -> pa.Table:
    ts = [DAY + timedelta(minutes=i) for i in range(first, first + n)]
    return pa.Table.from_pydict(
        {
            "event_id": [f"0190a000-0000-7000-8000-{i:012d}" for i in range(first, first + n)],
            "user_id": ["u"] * n,
            "session_id": ["s"] * n,
            "track_id": ["t"] * n,
            "artist_id": [f"artist{(i * 7) % 5}" for i in range(first, first + n)],
            "ts": ts,
            "ms_played": [1] * n,
            "skipped": [False] * n,
            "context": ["radio"] * n,
            "device": ["tv"] * n,
            "country": ["SE"] * n,
            "received_at": ts,
        },
        schema=STORED_SCHEMA,
    )


@pytest.fixture
def lake(tmp_path: Path) -> IcebergLake:
    lake = open_lake(str(tmp_path / "lake"))
    plays = tables.StreamTable(lake, PLAYS, "s")
    for batch in range(4):
        plays.commit(_rows(batch * 10, 10), batch + 1)
    return lake


def test_a_day_becomes_one_file_sorted_by_artist_and_time(lake: IcebergLake) -> None:
    assert len(lake.files(PLAYS)[DAY.date()]) == 4
    done = compaction.compact_day(lake, DAY.date())
    assert (done.files_before, done.files_after, done.rows) == (4, 1, 40)
    got = tables.read_plays(lake)
    keys = list(zip(got.column("artist_id").to_pylist(), got.column("ts").to_pylist(), strict=True))
    assert keys == sorted(keys) and len(set(got.column("event_id").to_pylist())) == 40
    assert tables.position(tables.plays_table(lake), "s") == 4  # the position is kept
    assert compaction.compact_day(lake, DAY.date()).files_after == 1  # a no-op now


def test_an_append_landing_during_compaction_is_not_lost(
    lake: IcebergLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    real = compaction.plays_table

    def stale_table(lake_: IcebergLake):  # type: ignore[no-untyped-def]
        table = real(lake_)
        if not loads:  # the consumer commits right after compaction loaded the table
            tables.StreamTable(lake_, PLAYS, "s").commit(_rows(100, 5), 5)
        loads.append(table)
        return table

    monkeypatch.setattr(compaction, "plays_table", stale_table)
    done = compaction.compact_day(lake, DAY.date())
    assert len(loads) == 2  # the first attempt lost the race and was redone
    assert (done.rows, done.files_after) == (45, 1)
    assert tables.read_plays(lake).num_rows == 45


def test_only_closed_days_with_several_files_are_chosen(lake: IcebergLake) -> None:
    assert compaction.closed_days(lake, DAY + timedelta(hours=23), timedelta(hours=1)) == []
    assert compaction.closed_days(lake, DAY + timedelta(days=1, hours=1), timedelta(hours=1)) == [
        DAY.date()
    ]


def test_the_consumer_trims_the_history_and_keeps_every_row_and_the_position(
    lake: IcebergLake,
) -> None:
    """Each commit copies the metadata, snapshots and all: the consumer keeps their number
    bounded (SNAPSHOTS_KEPT), without losing a row or its position."""
    kept = tables.SNAPSHOTS_KEPT
    counts = []
    plays = tables.StreamTable(lake, PLAYS, "s")
    for batch in range(4, 3 * kept + 8):
        plays.commit(_rows(batch * 10, 10), batch + 1)
        counts.append(len(tables.plays_table(lake).snapshots()))
    assert max(counts) <= 3 * kept
    assert min(counts[3 * kept - 4 :]) == kept  # trimmed once past 3x
    table = tables.plays_table(lake)
    assert tables.position(table, "s") == 3 * kept + 8
    assert table.scan().to_arrow().num_rows == (3 * kept + 8) * 10
