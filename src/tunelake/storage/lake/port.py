"""The lake port: history as one Apache Iceberg table per dataset, partitioned by `dt`.

One implementation (`iceberg_lake.IcebergLake`, pyiceberg) serves every catalog and a local
folder or S3 alike. A partition overwrite is one catalog commit: readers (the DuckDB views
included) read a snapshot's files, so a reader never sees half a partition.

The port is split by capability, so that a caller asks for what it uses: the raw zone
(`RawZonePort`), the tables (`TablesPort`), writes that another engine commits itself
(`EngineWritesPort`, Spark's) and housekeeping (`HousekeepingPort`). `Lake` is all of them:
what `open_lake` returns and what every adapter provides.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
from fsspec import AbstractFileSystem

from tunelake.errors import BackendUnavailable, TransientError, TunelakeError, UserError

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from tunelake.storage.lake.housekeeping import TableInfo, Vacuumed
    from tunelake.storage.lake.store import Store


class LakeError(TunelakeError):
    """The lake cannot do what was asked (bad name, table or layout); the message says why."""


class LakeUnavailable(LakeError, BackendUnavailable):
    """The lake's storage cannot be reached (S3 endpoint down, bucket missing, access denied)."""


class LakeConflict(LakeError, TransientError):
    """A commit kept losing races with other writers of the same table; try again later."""


class TablesPort(Protocol):
    """The curated datasets and their quarantine: one Iceberg table each."""

    url: str
    """The lake's root URL (a local path or s3://bucket/prefix); holds no secret."""

    @property
    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem the URLs of files() open in (SQL engines register it)."""

    def datasets(self) -> list[str]:
        """Names of the datasets that have a table (written at least once), sorted."""

    def write_partition(self, dataset: str, dt: date, table: pa.Table) -> list[str]:
        """Atomically replace partition dt of dataset (an empty table empties it); returns
        the new files' URLs."""

    def read_partition(self, dataset: str, dt: date) -> pa.Table | None:
        """The partition's rows, or None if it holds none."""

    def read_dataset(self, dataset: str, dts: Iterable[date] | None = None) -> pa.Table:
        """Rows of every (or the given) partition with a `dt` date column added."""

    def snapshot_id(self, dataset: str) -> int | None:
        """The dataset table's current snapshot (what a reader sees now); None if never written."""

    def partitions(self, dataset: str) -> list[date]:
        """Dates of the dataset's partitions that hold rows, ascending."""

    def files(self, dataset: str, as_of: datetime | None = None) -> dict[date, list[str]]:
        """The data files of each partition (what the SQL views read): now, or in the
        snapshot that was current at as_of ({} if the table had none then)."""

    def snapshot_time(self, snapshot_id: int) -> datetime:
        """When the snapshot of that id (of any table) was committed; LakeError if none has it."""

    def oldest_snapshot_time(self) -> datetime | None:
        """When the oldest snapshot any table still has (older ones expired) was committed:
        the earliest time a reader can travel back to; None if no table has a snapshot."""

    def quarantine(self, dataset: str, dt: date, rows: pa.Table) -> str | None:
        """Write rejected rows (with a `reason` column) to the table quarantine_<dataset>;
        replaces that dt atomically; with no rows, empties it and returns None."""

    def read_quarantine(self, dataset: str, dt: date) -> pa.Table | None: ...

    def quarantined(self) -> list[str]:
        """Datasets with a quarantine table, sorted."""

    def quarantine_files(
        self, dataset: str, as_of: datetime | None = None
    ) -> dict[date, list[str]]:
        """The data files of each quarantine partition of dataset, now or at as_of."""


class EngineWritesPort(TablesPort, Protocol):
    """Tables another engine (Spark) writes files into and commits itself."""

    @property
    def store(self) -> Store:
        """Where the files live: the engine writes under `store.rooted(table.location())`."""

    def table_for_write(self, dataset: str, schema: pa.Schema) -> Table:
        """The dataset's Iceberg table, created or given schema's new columns (schema: the
        dataset's columns, no dt), partitioned by identity(dt)."""


class RawZonePort(Protocol):
    """The raw zone: the source's responses as landed, gzip JSON lines per endpoint and dt."""

    def write_raw(self, endpoint: str, dt: date, responses: Iterable[dict[str, Any]]) -> str:
        """Append one gzip JSON-lines file to raw/<endpoint>/dt=…/ (each line one response:
        request, status, fetched_at, body); the file appears whole or not at all."""

    def raw_dates(self, endpoint: str) -> list[date]:
        """The dts for which endpoint has landed at least one file, ascending."""

    def read_raw(self, endpoint: str, dt: date) -> Iterator[dict[str, Any]]:
        """Every raw response landed for endpoint and dt, in landing order."""

    def raw_endpoints(self, dt: date) -> list[str]: ...


class HousekeepingPort(Protocol):
    """Keeping the tables from growing without bound, and describing them."""

    def vacuum(self, retention: timedelta, orphan_grace: timedelta = ...) -> list[Vacuumed]:
        """Expire snapshots older than retention (keeping each table's current one) and
        delete files no remaining snapshot references (if older than orphan_grace); never
        a file outside the lake's root."""

    def info(self) -> list[TableInfo]:
        """Every table: snapshots, and rows, data files and bytes of the current one."""


class Lake(EngineWritesPort, RawZonePort, HousekeepingPort, Protocol):
    """Every capability: what `open_lake` returns and every adapter provides."""


class CatalogDamaged(LakeError, UserError):
    """The catalog or a table's current metadata file is damaged; `tunelake lake repair`
    rebuilds the catalog from the tables' newest readable metadata files."""
