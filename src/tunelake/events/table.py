"""The Iceberg tables `plays` and `quarantine_plays`, and the stream position they carry.

`plays` is partitioned by day(ts): a query of a day, or of an artist over a few days, reads one
partition, and a compacted day is a handful of files sorted by (artist_id, ts). Hourly
partitions would only multiply small files (24 partitions a day, each with a file per micro-batch)
without pruning more for the per-artist and per-day queries people run.

Exactly once: each table keeps, as the table property POSITION, the broker position of the
last message whose events it holds, set in the same Iceberg commit as the rows. A consumer
resumes after the position of `plays`; rows of messages at or below a table's position are
never written again. pyiceberg's own commit retry is off on these tables
(`commit.retry.num-retries` 0): it would re-apply an append on fresh metadata without checking
the position, so a lost race is redone here, which re-reads the position first (and fences a
second consumer: a position that moved is not ours).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThan
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from tunelake.errors import UserError
from tunelake.events.schema import PLAYS, QUARANTINE_PLAYS, QUARANTINE_SCHEMA, STORED_SCHEMA
from tunelake.storage.lake.commits import retry_races
from tunelake.storage.lake.iceberg_lake import TABLE_PROPERTIES

if TYPE_CHECKING:
    from tunelake.storage.lake import IcebergLake

POSITION = "tunelake.events.position"
"""Table property: the broker position (an integer) of the last message the table holds."""
STREAM = "tunelake.events.stream"
"""Table property: which stream the position belongs to (a position of another is no use)."""
PROPERTIES = TABLE_PROPERTIES | {"commit.retry.num-retries": "0"}
SNAPSHOTS_KEPT = 10
"""Snapshots a consumer leaves on `plays` when it trims the history (at 3x this many). Every
pyiceberg commit copies the table's metadata about 20 times, snapshots and all: with a commit
a second the history would grow without end (snapshot expiry runs daily) and each commit slow
down with it (0.13 s at 10 snapshots, 0.42 s at 60). The position is a table property, so
trimming loses no exactly-once state; time travel on `plays` reaches the last commits only."""


class PositionMoved(UserError):
    """Another consumer committed to the table meanwhile: one consumer per stream and table."""


def _table(lake: IcebergLake, name: str, schema: pa.Schema, day_of: str) -> Table:
    found = lake.load(name)
    if found is not None:
        return found
    try:
        with lake.catalog.create_table_transaction(
            (lake.namespace, name), schema=schema, properties=PROPERTIES
        ) as tx:
            tx.update_spec().add_field(day_of, DayTransform(), f"{day_of}_day").commit()
    except TableAlreadyExistsError:
        pass  # another process created it first
    table = lake.load(name)
    assert table is not None
    return table


def plays_table(lake: IcebergLake) -> Table:
    """`plays`, created (partitioned by day(ts)) if missing."""
    return _table(lake, PLAYS, STORED_SCHEMA, "ts")


def quarantine_table(lake: IcebergLake) -> Table:
    """`quarantine_plays`, created (partitioned by day(received_at)) if missing."""
    return _table(lake, QUARANTINE_PLAYS, QUARANTINE_SCHEMA, "received_at")


def position(table: Table, stream: str) -> int:
    """The position of the last message table holds for stream (0: none yet)."""
    props = table.properties
    if props.get(STREAM, stream) != stream:
        return 0
    return int(props.get(POSITION, "0"))


class StreamTable:
    """One of the consumer's tables and the position of a stream it holds, as this consumer
    last committed it. Each commit loads the table afresh (a millisecond) and checks that the
    position is still that one: pyiceberg asserts nothing about table properties, so a commit
    on kept metadata could set the position over another writer's."""

    def __init__(self, lake: IcebergLake, name: str, stream: str) -> None:
        self.lake = lake
        self.name = name
        self.stream = stream
        self.position = position(self._load(), stream)

    def _load(self) -> Table:
        return plays_table(self.lake) if self.name == PLAYS else quarantine_table(self.lake)

    def commit(self, rows: pa.Table, new: int) -> None:
        """Append rows and move the position to new, in one commit; then trim the history.

        Raises PositionMoved if the table's position is not this one's (another consumer)."""

        def once() -> Table:
            table = self._load()
            now = position(table, self.stream)
            if now != self.position:
                raise PositionMoved(
                    f"{self.lake.namespace}.{self.name} moved to position {now} of stream "
                    f"{self.stream} while this consumer expected {self.position}: another "
                    "consumer commits to it; run one `tunelake events consume` per stream"
                )
            with table.transaction() as tx:
                if rows.num_rows:
                    tx.append(rows)
                tx.set_properties({POSITION: str(new), STREAM: self.stream})
            return table

        committed = retry_races(f"{self.lake.namespace}.{self.name}", once)
        self.position = new
        trim_history(committed)


def trim_history(table: Table) -> int:
    """Expire all but the newest SNAPSHOTS_KEPT snapshots of table once it holds more than 3x
    as many; how many were expired (0 as well when a concurrent commit won: next time)."""
    snapshots = sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    if len(snapshots) <= 3 * SNAPSHOTS_KEPT:
        return 0
    old = [s.snapshot_id for s in snapshots[:-SNAPSHOTS_KEPT]]
    try:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    except CommitFailedException:
        return 0
    return len(old)


def between(start: datetime | None, end: datetime | None) -> BooleanExpression:
    # pyiceberg's predicates are pydantic models whose __init__ mypy does not see.
    conditions: list[BooleanExpression] = []
    if start is not None:
        conditions.append(GreaterThanOrEqual("ts", _micros(start)))  # type: ignore[call-arg, arg-type]
    if end is not None:
        conditions.append(LessThan("ts", _micros(end)))  # type: ignore[call-arg, arg-type]
    if not conditions:
        return AlwaysTrue()
    return conditions[0] if len(conditions) == 1 else And(*conditions)


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise UserError(f"{moment.isoformat()} has no time zone: give times in UTC")
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def read_plays(
    lake: IcebergLake,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Plays with start <= ts < end (either open), only `columns` if given; the filter is
    pushed down to Iceberg (partitions and file statistics prune). No table yet: no rows."""
    table = lake.load(PLAYS)
    wanted = tuple(columns) if columns else ("*",)
    if columns:
        unknown = sorted(set(columns) - set(STORED_SCHEMA.names))
        if unknown:
            raise UserError(f"plays has no column(s) {unknown}; it has {STORED_SCHEMA.names}")
    if table is None:
        schema = (
            STORED_SCHEMA if not columns else pa.schema([STORED_SCHEMA.field(c) for c in columns])
        )
        return schema.empty_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        got = table.scan(row_filter=between(start, end), selected_fields=wanted).to_arrow()
    return got.cast(pa.schema([STORED_SCHEMA.field(n) for n in got.column_names]))
