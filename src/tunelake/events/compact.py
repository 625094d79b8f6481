"""Compaction of `plays`: a day's micro-batch files rewritten as one file (pyiceberg splits at
the table's target file size) sorted by (artist_id, ts), the order of the queries people run
(an artist's plays over time, plays per artist per day), in one Iceberg commit.

A concurrent append to that day is never lost: the rewrite reads the day from one snapshot and
replaces exactly that snapshot's files of the day; a consumer commit landing meanwhile makes
the rewrite's commit fail (the table's own retry is off, see events/table.py), and the rewrite
is redone from the fresh snapshot, new rows included.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tunelake.events.table import between, plays_table
from tunelake.storage.lake import IcebergLake
from tunelake.storage.lake.commits import retry_races


@dataclass(frozen=True)
class Compacted:
    day: date
    files_before: int
    files_after: int
    rows: int


def closed_days(lake: IcebergLake, now: datetime, grace: timedelta) -> list[date]:
    """Days of `plays` with more than one file that ended at least grace ago."""
    files = lake.files("plays")
    return [
        day
        for day, paths in files.items()
        if len(paths) > 1 and _start(day) + timedelta(days=1) + grace <= now
    ]


def compact_day(lake: IcebergLake, day: date) -> Compacted:
    """Rewrite one day of plays sorted by (artist_id, ts) in one commit (a no-op for a day
    already in one file)."""
    row_filter = between(_start(day), _start(day) + timedelta(days=1))

    def once() -> Compacted:
        table = plays_table(lake)
        snapshot = table.current_snapshot()
        if snapshot is None:
            return Compacted(day, 0, 0, 0)
        scan = table.scan(row_filter=row_filter, snapshot_id=snapshot.snapshot_id)
        before = len(list(scan.plan_files()))
        if before <= 1:
            return Compacted(day, before, before, 0)
        rows = scan.to_arrow().sort_by([("artist_id", "ascending"), ("ts", "ascending")])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with table.transaction() as tx:
                tx.overwrite(rows, overwrite_filter=row_filter)
        after = table.scan(row_filter=row_filter).plan_files()
        return Compacted(day, before, len(list(after)), rows.num_rows)

    return retry_races(f"{lake.namespace}.plays", once)


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
