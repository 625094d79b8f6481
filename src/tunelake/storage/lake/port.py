"""The lake port: history as Hive-partitioned Parquet (`<dataset>/dt=YYYY-MM-DD/`).

One implementation over pyarrow/fsspec filesystems serves a local folder and S3 alike.
A partition overwrite is atomic: readers (the DuckDB views included) go through each
partition's manifest, which names the files of the current version, so a reader never sees
half a partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, Protocol

import pyarrow as pa
from fsspec import AbstractFileSystem

from tunelake.errors import BackendUnavailable, TunelakeError


class LakeError(TunelakeError):
    """The lake cannot do what was asked (bad name, table or layout); the message says why."""


class LakeUnavailable(LakeError, BackendUnavailable):
    """The lake's storage cannot be reached (S3 endpoint down, bucket missing, access denied)."""


class Lake(Protocol):
    url: str
    """The lake's root URL (a local path or s3://bucket/prefix); holds no secret."""

    @property
    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem the URLs of files() open in (SQL engines register it)."""

    def datasets(self) -> list[str]:
        """Names of the datasets that have at least one committed partition, sorted."""

    def write_partition(self, dataset: str, dt: date, table: pa.Table) -> list[str]:
        """Atomically replace partition dt of dataset; returns the new files' URLs."""

    def read_partition(self, dataset: str, dt: date) -> pa.Table | None:
        """The partition's rows, or None if it was never written."""

    def read_dataset(self, dataset: str, dts: Iterable[date] | None = None) -> pa.Table:
        """Rows of every (or the given) partition with a `dt` date column added."""

    def partitions(self, dataset: str) -> list[date]:
        """Dates of the dataset's committed partitions, ascending."""

    def files(self, dataset: str) -> dict[date, list[str]]:
        """The current files of each committed partition (what the SQL views read)."""

    def write_raw(self, endpoint: str, dt: date, responses: Iterable[dict[str, Any]]) -> str:
        """Append one gzip JSON-lines file to raw/<endpoint>/dt=…/ (each line one response:
        request, status, fetched_at, body); the file appears whole or not at all."""

    def raw_dates(self, endpoint: str) -> list[date]:
        """The dts for which endpoint has landed at least one file, ascending."""

    def read_raw(self, endpoint: str, dt: date) -> Iterator[dict[str, Any]]:
        """Every raw response landed for endpoint and dt, in landing order."""

    def raw_endpoints(self, dt: date) -> list[str]: ...

    def quarantine(self, dataset: str, dt: date, rows: pa.Table) -> str | None:
        """Write rejected rows (with a `reason` column) to _quarantine/<dataset>/dt=…;
        replaces that partition's quarantine atomically; with no rows, removes it and
        returns None."""

    def read_quarantine(self, dataset: str, dt: date) -> pa.Table | None: ...

    def quarantined(self) -> list[str]:
        """Datasets with at least one quarantine partition, sorted."""

    def quarantine_files(self, dataset: str) -> dict[date, list[str]]:
        """The current files of each quarantine partition of dataset."""
