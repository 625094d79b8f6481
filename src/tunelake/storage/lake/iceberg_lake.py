"""The lake as Apache Iceberg tables (pyiceberg), plus the raw zone beside them.

Every curated dataset is the table `<namespace>.<dataset>`, and its rejected rows the table
`<namespace>.quarantine_<dataset>`; both are partitioned by identity(`dt`) and keep `dt` as a
column of their data files. A write replaces one dt in one catalog commit (an overwrite whose
filter is that dt), so a reader sees the old partition or the new one; a commit that loses a
race with another writer is redone on the table's fresh state.

Layout under the lake root: `<namespace>/<table>/{data,metadata}/` (Iceberg's own),
`raw/<endpoint>/dt=…/` (the raw zone), and, for a local lake, the default catalog `catalog.db`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
from fsspec import AbstractFileSystem
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, EqualTo, In
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from tunelake.datasets import CURATED
from tunelake.redact import mask_urls_in
from tunelake.storage.lake import housekeeping
from tunelake.storage.lake.commits import retry_races
from tunelake.storage.lake.port import CatalogDamaged, LakeError
from tunelake.storage.lake.raw_zone import RawZone
from tunelake.storage.lake.store import Store

RAW = "raw"
QUARANTINE_PREFIX = "quarantine_"
REASON = "reason"
DT = "dt"
EPOCH = date(1970, 1, 1)
TABLE_PROPERTIES = {
    # Each commit writes a new metadata file; keep the last few (time travel reads snapshots,
    # which live in the current one), so metadata does not grow without bound.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    "write.parquet.compression-codec": "zstd",
}

DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class IcebergLake:
    def __init__(self, catalog: Catalog, store: Store, namespace: str, catalog_url: str) -> None:
        self.catalog = catalog
        self.store = store
        self.namespace = namespace
        self.url = store.url
        self.catalog_url = catalog_url
        """Masked: holds no password."""
        self._raw = RawZone(store, store.join(RAW))

    def __repr__(self) -> str:  # the catalog and filesystem hold credentials: show only where
        return f"IcebergLake({self.url!r}, catalog={self.catalog_url!r})"

    @property
    def filesystem(self) -> AbstractFileSystem:
        return self.store.fs

    # tables ----------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Every table of the namespace (datasets and quarantine), sorted."""
        return sorted(name for _, name in self.catalog.list_tables(self.namespace))

    def load(self, name: str) -> Table | None:
        try:
            return self.catalog.load_table((self.namespace, name))
        except NoSuchTableError:
            return None
        except (OSError, ValueError) as exc:  # a metadata file missing or unreadable
            raise CatalogDamaged(
                f"table {self.namespace}.{name}: its current metadata file cannot be read "
                f"({type(exc).__name__}: {mask_urls_in(str(exc))}); run `tunelake lake repair`"
            ) from exc

    def _create(self, name: str, schema: pa.Schema) -> Table:
        try:
            with self.catalog.create_table_transaction(
                (self.namespace, name), schema=schema, properties=TABLE_PROPERTIES
            ) as tx:
                tx.update_spec().add_identity(DT).commit()
        except TableAlreadyExistsError:
            pass  # another writer created it first
        table = self.load(name)
        assert table is not None
        return table

    def _prepared(self, name: str, schema: pa.Schema) -> Table:
        """Table name, created or given the new columns of schema (which has the dt column)."""
        table = self.load(name) or self._create(name, schema)
        if set(schema.names) - set(table.schema().column_names):
            with table.update_schema() as update:
                update.union_by_name(schema)
        return table

    def _commit(self, name: str, dt: date, data: pa.Table) -> Table:
        """Replace partition dt of table name by data (which has the dt column) in one commit;
        creates the table, or adds new columns to it, as data needs."""

        def once() -> Table:
            table = self._prepared(name, data.schema)
            with warnings.catch_warnings():
                # "Delete operation did not match any records": a first write of the dt.
                warnings.simplefilter("ignore", UserWarning)
                table.overwrite(data, overwrite_filter=_dt_is(dt))
            return table

        return retry_races(f"{self.namespace}.{name}", once)

    def snapshot_as_of(self, table: Table, as_of: datetime | None) -> Snapshot | None:
        if as_of is None:
            return table.current_snapshot()
        return table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))

    def snapshot_time(self, snapshot_id: int) -> datetime:
        """When the snapshot of that id (of any table of the lake) was committed."""
        for name in self.tables():
            table = self.load(name)
            snapshot = table.snapshot_by_id(snapshot_id) if table else None
            if snapshot is not None:
                return datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
        raise LakeError(f"no table of the lake has a snapshot {snapshot_id}")

    def oldest_snapshot_time(self) -> datetime | None:
        times = [
            snapshot.timestamp_ms
            for table in filter(None, map(self.load, self.tables()))
            for snapshot in table.snapshots()
        ]
        return datetime.fromtimestamp(min(times) / 1000, UTC) if times else None

    def _files(self, name: str, as_of: datetime | None = None) -> dict[date, list[str]]:
        table = self.load(name)
        snapshot = self.snapshot_as_of(table, as_of) if table else None
        if table is None or snapshot is None:
            return {}
        return self._snapshot_files(table, snapshot.snapshot_id, AlwaysTrue())

    def _snapshot_files(
        self, table: Table, snapshot_id: int, row_filter: BooleanExpression
    ) -> dict[date, list[str]]:
        name = table.name()[-1]
        files: dict[date, list[str]] = {}
        try:
            tasks = list(table.scan(row_filter, snapshot_id=snapshot_id).plan_files())
        except (OSError, ValueError) as exc:  # a manifest list or manifest missing or broken
            raise LakeError(f"table {self.namespace}.{name} cannot be read: {exc}") from exc
        for task in tasks:
            if task.delete_files:  # tunelake writes none; another engine could
                raise LakeError(
                    f"table {self.namespace}.{name} has row-level delete files; compact it "
                    "(e.g. Spark's rewrite_data_files) before reading it here"
                )
            dt = EPOCH + timedelta(days=task.file.partition[0])
            files.setdefault(dt, []).append(self._url(task.file.file_path))
        return {dt: sorted(files[dt]) for dt in sorted(files)}

    def _written(self, table: Table, dt: date) -> list[str]:
        """The files of dt in the snapshot a write just committed (no catalog round trip)."""
        snapshot = table.current_snapshot()
        if snapshot is None:
            return []
        return self._snapshot_files(table, snapshot.snapshot_id, _dt_is(dt)).get(dt, [])

    def _read(self, name: str, row_filter: BooleanExpression) -> pa.Table | None:
        table = self.load(name)
        if table is None:
            return None
        return table.scan(row_filter=row_filter).to_arrow()

    def _url(self, location: str) -> str:
        """A recorded location as SQL engines name it, under this lake's root."""
        return self.store.url_of(self.store.path_of(location))

    # housekeeping ----------------------------------------------------------------------------
    def vacuum(
        self, retention: timedelta, orphan_grace: timedelta = housekeeping.ORPHAN_GRACE
    ) -> list[housekeeping.Vacuumed]:
        return housekeeping.vacuum(self, retention, orphan_grace=orphan_grace)

    def info(self) -> list[housekeeping.TableInfo]:
        return housekeeping.info(self)

    # curated datasets ------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        return [n for n in self.tables() if not n.startswith(QUARANTINE_PREFIX)]

    def write_partition(self, dataset: str, dt: date, table: pa.Table) -> list[str]:
        dataset, dt = _dataset(dataset), _date(dt)
        return self._written(self._commit(dataset, dt, _with_dt(_conform(dataset, table), dt)), dt)

    def table_for_write(self, dataset: str, schema: pa.Schema) -> Table:
        """The dataset's table, ready for a write of rows with schema (the dataset's columns,
        no dt) that another engine commits itself: created, or given new columns, exactly as
        `write_partition` would for such rows. Its partition spec is identity(dt)."""
        dataset = _dataset(dataset)
        return self._prepared(
            dataset, _with_dt(_conform(dataset, schema.empty_table()), EPOCH).schema
        )

    def read_partition(self, dataset: str, dt: date) -> pa.Table | None:
        got = self._read(_dataset(dataset), _dt_is(_date(dt)))
        if got is None or got.num_rows == 0:
            return None
        return _declared(dataset, got.drop_columns(DT))

    def read_dataset(self, dataset: str, dts: Iterable[date] | None = None) -> pa.Table:
        row_filter = AlwaysTrue() if dts is None else _dt_in({_date(d) for d in dts})
        got = self._read(_dataset(dataset), row_filter)
        if got is None:
            return _empty(dataset)
        return _declared(dataset, got.drop_columns(DT)).append_column(
            pa.field(DT, pa.date32(), nullable=False), got.column(DT)
        )

    def snapshot_id(self, dataset: str) -> int | None:
        table = self.load(_dataset(dataset))
        snapshot = None if table is None else table.current_snapshot()
        return None if snapshot is None else snapshot.snapshot_id

    def partitions(self, dataset: str) -> list[date]:
        return list(self.files(dataset))

    def files(self, dataset: str, as_of: datetime | None = None) -> dict[date, list[str]]:
        return self._files(_dataset(dataset), as_of)

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
        name = QUARANTINE_PREFIX + dataset
        if rows.num_rows == 0:
            # A re-run that rejects nothing must not leave the previous run's rejects behind.
            if self.load(name) is not None:
                self._commit(name, dt, _with_dt(_as_text(rows), dt))
            return None
        return self._written(self._commit(name, dt, _with_dt(_as_text(rows), dt)), dt)[0]

    def read_quarantine(self, dataset: str, dt: date) -> pa.Table | None:
        got = self._read(QUARANTINE_PREFIX + _dataset(dataset), _dt_is(_date(dt)))
        if got is None or got.num_rows == 0:
            return None
        return got.drop_columns(DT)

    def quarantined(self) -> list[str]:
        return [
            n.removeprefix(QUARANTINE_PREFIX)
            for n in self.tables()
            if n.startswith(QUARANTINE_PREFIX)
        ]

    def quarantine_files(
        self, dataset: str, as_of: datetime | None = None
    ) -> dict[date, list[str]]:
        return self._files(QUARANTINE_PREFIX + _dataset(dataset), as_of)


# conversions -----------------------------------------------------------------------------------


# pyiceberg's predicates are pydantic models whose __init__ mypy does not see.
def _dt_is(dt: date) -> BooleanExpression:
    return EqualTo(DT, dt.isoformat())  # type: ignore[call-arg, arg-type]


def _dt_in(dts: set[date]) -> BooleanExpression:
    return In(DT, {dt.isoformat() for dt in dts})  # type: ignore[call-arg, arg-type]


def _with_dt(table: pa.Table, dt: date) -> pa.Table:
    column = pa.repeat(pa.scalar(dt, pa.date32()), table.num_rows)
    return table.append_column(pa.field(DT, pa.date32(), nullable=False), column)


def _as_text(table: pa.Table) -> pa.Table:
    """Rejected rows as text: a rejected value is often one its column's type cannot hold
    (`abc` for a tempo), and one dt's rejects must not fix the table's types for the next;
    lists and structs become JSON."""
    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type):
            values = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
            columns.append(pa.array(values, pa.string()))
        else:
            columns.append(column.cast(pa.string()))
    fields = [pa.field(name, pa.string()) for name in table.column_names]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _declared(dataset: str, table: pa.Table) -> pa.Table:
    """Give the columns a known dataset declares their declared Arrow types (so every partition
    agrees whatever int widths the producer used, and a read gives back the int16 that Iceberg
    stores as int); other columns keep theirs."""
    declared = CURATED.get(dataset)
    if declared is None:
        return table
    names = set(declared.schema.names)
    fields = [declared.schema.field(f.name) if f.name in names else f for f in table.schema]
    return table.cast(pa.schema(fields))


def _dataset(name: str) -> str:
    if not DATASET_NAME.match(name) or name == RAW or name.startswith(QUARANTINE_PREFIX):
        raise LakeError(
            f"{name!r} is not a dataset name: use lowercase letters, digits and '_', starting "
            f"with a letter (and neither {RAW!r} nor starting with {QUARANTINE_PREFIX!r})"
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
    """The table in its dataset's declared types, checked for the required columns."""
    _no_dt(dataset, table)
    declared = CURATED.get(dataset)
    if declared is None:
        return table
    required = [f.name for f in declared.schema if not f.nullable]
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise LakeError(f"{dataset}: the table lacks required column(s) {missing}")
    try:
        return _declared(dataset, table)
    except (ValueError, TypeError, NotImplementedError) as exc:  # pyarrow's cast errors
        raise LakeError(f"{dataset}: columns do not fit the dataset schema: {exc}") from exc


def _no_dt(dataset: str, table: pa.Table) -> None:
    if DT in table.column_names:
        raise LakeError(f"{dataset}: {DT!r} is the partition key, not a column; drop it")


def _empty(dataset: str) -> pa.Table:
    declared = CURATED.get(dataset)
    fields = list(declared.schema) if declared else []
    return pa.schema([*fields, pa.field(DT, pa.date32(), nullable=False)]).empty_table()
