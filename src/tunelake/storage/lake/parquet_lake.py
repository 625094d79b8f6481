"""The lake over a Store: curated datasets, the raw zone and quarantine, local or on S3.

Layout under the root:
  <dataset>/dt=YYYY-MM-DD/_manifest.json + _v<id>/part-0.parquet   (curated; see partitions)
  _quarantine/<dataset>/dt=YYYY-MM-DD/...                          (rejected rows + `reason`)
  raw/<endpoint>/dt=YYYY-MM-DD/<id>.jsonl.gz                       (responses as landed)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
from fsspec import AbstractFileSystem

from tunelake.datasets import CURATED
from tunelake.storage.lake.partitions import DATASET_NAME, Partitions
from tunelake.storage.lake.port import LakeError
from tunelake.storage.lake.raw import RawZone
from tunelake.storage.lake.store import Store

RAW = "raw"
QUARANTINE = "_quarantine"
REASON = "reason"
DT = "dt"
ORPHAN_GRACE = timedelta(hours=1)
"""How old an unreferenced version must be before a write deletes it; younger ones may be a
concurrent writer's work in progress."""
READ_THREADS = 8
"""Partitions read at once by read_dataset: S3 latency, not CPU, bounds a many-partition read."""

_ENDPOINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ParquetLake:
    def __init__(self, store: Store, *, orphan_grace: timedelta = ORPHAN_GRACE) -> None:
        self.store = store
        self.url = store.url
        self._curated = Partitions(store, store.root, orphan_grace)
        self._quarantine = Partitions(store, store.join(QUARANTINE), orphan_grace)
        self._raw = RawZone(store, store.join(RAW))

    def __repr__(self) -> str:
        return f"ParquetLake({self.url!r})"

    @property
    def filesystem(self) -> AbstractFileSystem:
        return self.store.fs

    # curated datasets ------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        return [n for n in self._curated.datasets() if n != RAW]

    def write_partition(self, dataset: str, dt: date, table: pa.Table) -> list[str]:
        return self._curated.commit(_dataset(dataset), _date(dt), _conform(dataset, table))

    def read_partition(self, dataset: str, dt: date) -> pa.Table | None:
        return self._curated.read(_dataset(dataset), _date(dt))

    def read_dataset(self, dataset: str, dts: Iterable[date] | None = None) -> pa.Table:
        committed = self._curated.dates(_dataset(dataset))
        wanted = committed if dts is None else sorted(set(committed) & {_date(d) for d in dts})
        with ThreadPoolExecutor(READ_THREADS) as pool:
            parts = list(pool.map(lambda dt: self._with_dt(dataset, dt), wanted))
        tables = [t for t in parts if t is not None]  # a partition dropped meanwhile
        if not tables:
            return _empty(dataset)
        return pa.concat_tables(tables, promote_options="permissive")

    def partitions(self, dataset: str) -> list[date]:
        return self._curated.dates(_dataset(dataset))

    def files(self, dataset: str) -> dict[date, list[str]]:
        return self._curated.files(_dataset(dataset))

    def _with_dt(self, dataset: str, dt: date) -> pa.Table | None:
        table = self._curated.read(dataset, dt)
        if table is None:
            return None
        column = pa.repeat(pa.scalar(dt, pa.date32()), table.num_rows)
        return table.append_column(pa.field(DT, pa.date32(), nullable=False), column)

    # raw zone --------------------------------------------------------------------------------
    def write_raw(self, endpoint: str, dt: date, responses: Iterable[dict[str, Any]]) -> str:
        return self._raw.write(_endpoint(endpoint), _date(dt), responses)

    def read_raw(self, endpoint: str, dt: date) -> Iterator[dict[str, Any]]:
        return self._raw.read(_endpoint(endpoint), _date(dt))

    def raw_dates(self, endpoint: str) -> list[date]:
        return self._raw.dates(_endpoint(endpoint))

    def raw_endpoints(self, dt: date) -> list[str]:
        return self._raw.endpoints(_date(dt))

    # quarantine ------------------------------------------------------------------------------
    def quarantine(self, dataset: str, dt: date, rows: pa.Table) -> str | None:
        dataset, dt = _dataset(dataset), _date(dt)
        if REASON not in rows.column_names or not pa.types.is_string(
            rows.schema.field(REASON).type
        ):
            raise LakeError(
                f"quarantined rows of {dataset} need a string {REASON!r} column saying why "
                f"each row was rejected; got columns {rows.column_names}"
            )
        _no_dt(dataset, rows)
        if rows.num_rows == 0:
            # A re-run that rejects nothing must not leave the previous run's rejects behind.
            self._quarantine.drop(dataset, dt)
            return None
        return self._quarantine.commit(dataset, dt, rows)[0]

    def read_quarantine(self, dataset: str, dt: date) -> pa.Table | None:
        return self._quarantine.read(_dataset(dataset), _date(dt))

    def quarantined(self) -> list[str]:
        """Datasets with at least one quarantine partition."""
        return self._quarantine.datasets()

    def quarantine_files(self, dataset: str) -> dict[date, list[str]]:
        return self._quarantine.files(_dataset(dataset))


# checks ------------------------------------------------------------------------------------------


def _dataset(name: str) -> str:
    if not DATASET_NAME.match(name) or name == RAW:
        raise LakeError(
            f"{name!r} is not a dataset name: use lowercase letters, digits and '_', starting "
            f"with a letter (and not {RAW!r})"
        )
    return name


def _endpoint(name: str) -> str:
    if not _ENDPOINT.match(name):
        raise LakeError(
            f"{name!r} is not a raw endpoint name: use letters, digits, '_', '.' and '-' "
            "(no '/'), starting with a letter, digit or '_'"
        )
    return name


def _date(dt: date) -> date:
    if isinstance(dt, datetime) or not isinstance(dt, date):
        raise LakeError(f"a partition is a datetime.date, not {dt!r}")
    return dt


def _conform(dataset: str, table: pa.Table) -> pa.Table:
    """Give the columns a known dataset declares their declared types (so every partition
    agrees, whatever int widths the producer used); other columns pass as they are."""
    _no_dt(dataset, table)
    declared = CURATED.get(dataset)
    if declared is None:
        return table
    required = [f.name for f in declared.schema if not f.nullable]
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise LakeError(f"{dataset}: the table lacks required column(s) {missing}")
    names = set(declared.schema.names)
    fields = [declared.schema.field(f.name) if f.name in names else f for f in table.schema]
    try:
        return table.cast(pa.schema(fields))
    except (ValueError, TypeError, NotImplementedError) as exc:  # pyarrow's cast errors
        raise LakeError(f"{dataset}: columns do not fit the dataset schema: {exc}") from exc


def _no_dt(dataset: str, table: pa.Table) -> None:
    if DT in table.column_names:
        raise LakeError(f"{dataset}: {DT!r} is the partition key, not a column; drop it")


def _empty(dataset: str) -> pa.Table:
    declared = CURATED.get(dataset)
    fields = list(declared.schema) if declared else []
    return pa.schema([*fields, pa.field(DT, pa.date32(), nullable=False)]).empty_table()
