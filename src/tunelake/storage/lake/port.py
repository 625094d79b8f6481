"""The lake port: history as one Apache Iceberg table per dataset, partitioned by `dt`.

One implementation (`iceberg_lake.IcebergLake`, pyiceberg) serves every catalog and a local
folder or S3 alike. A partition overwrite is one catalog commit: readers (the DuckDB views
included) read a snapshot's files, so a reader never sees half a partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
from fsspec import AbstractFileSystem

from tunelake.errors import BackendUnavailable, TransientError, TunelakeError

if TYPE_CHECKING:
    from tunelake.storage.lake.housekeeping import TableInfo, Vacuumed


class LakeError(TunelakeError):
    """The lake cannot do what was asked (bad name, table or layout); the message says why."""


class LakeUnavailable(LakeError, BackendUnavailable):
    """The lake's storage cannot be reached (S3 endpoint down, bucket missing, access denied)."""


class LakeConflict(LakeError, TransientError):
    """A commit kept losing races with other writers of the same table; try again later."""


class Lake(Protocol):
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

    def write_raw(self, endpoint: str, dt: date, responses: Iterable[dict[str, Any]]) -> str:
        """Append one gzip JSON-lines file to raw/<endpoint>/dt=…/ (each line one response:
        request, status, fetched_at, body); the file appears whole or not at all."""

    def raw_dates(self, endpoint: str) -> list[date]:
        """The dts for which endpoint has landed at least one file, ascending."""

    def read_raw(self, endpoint: str, dt: date) -> Iterator[dict[str, Any]]:
        """Every raw response landed for endpoint and dt, in landing order."""

    def raw_endpoints(self, dt: date) -> list[str]: ...

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

    def vacuum(self, retention: timedelta, orphan_grace: timedelta = ...) -> list[Vacuumed]:
        """Expire snapshots older than retention (keeping each table's current one) and
        delete files no remaining snapshot references (if older than orphan_grace)."""

    def info(self) -> list[TableInfo]:
        """Every table: snapshots, and rows, data files and bytes of the current one."""
