"""SQL over the lake (the Athena/Presto role) on an in-memory DuckDB.

Every lake dataset is a view under its own name, with `dt` as a DATE column; every dataset
with quarantined rows also has a `quarantine_<dataset>` view. The views list the files the
partition manifests name at the time the views were built, so a query never sees half a
partition. `refresh()` rebuilds them; a query that finds its files replaced by a newer
version refreshes and runs once more.

An S3 lake is read through the lake's own fsspec filesystem registered on the connection:
DuckDB's httpfs extension needs a download this machine cannot make.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem

from tunelake.errors import InputError
from tunelake.storage.lake.port import Lake

QUARANTINE_PREFIX = "quarantine_"


class SqlError(InputError):
    """A query failed; the message is DuckDB's."""


class LakeSql(Protocol):
    """SQL over the lake's views, on any engine."""

    def views(self) -> list[str]: ...

    def refresh(self) -> None: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table: ...

    def close(self) -> None: ...


def open_sql(lake: Lake, engine: str = "duckdb", spark_master: str | None = None) -> LakeSql:
    """The lake's views on `engine`: duckdb (in process) or spark (Spark SQL, the spark extra)."""
    if engine not in ("duckdb", "spark"):
        raise SqlError(f"unknown SQL engine {engine!r}: choose duckdb or spark")
    if engine == "spark":
        from tunelake.engines.spark import session
        from tunelake.engines.spark_sql import SparkSqlEngine

        return SparkSqlEngine(lake, session(spark_master))
    return SqlEngine(lake)


class SqlEngine:
    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        # Never reach for the network to install an extension.
        self._con = duckdb.connect(config={"autoinstall_known_extensions": False})
        if not isinstance(lake.filesystem, LocalFileSystem):
            self._con.register_filesystem(lake.filesystem)
        self._views: list[str] = []
        self._refresh_lock = threading.Lock()
        self.refresh()

    def __repr__(self) -> str:
        return f"SqlEngine({self._lake.url!r}, views={self._views})"

    def views(self) -> list[str]:
        return list(self._views)

    def refresh(self) -> None:
        """Point the views at the partitions' current files (and drop those of vanished
        datasets), in one transaction: a concurrent query sees the old set or the new one."""
        wanted = view_files(self._lake)
        with self._refresh_lock, self._con.cursor() as cur:
            cur.begin()
            for gone in set(self._views) - set(wanted):
                cur.execute(f"DROP VIEW IF EXISTS {_identifier(gone)}")
            for name, files in wanted.items():
                cur.execute(f"CREATE OR REPLACE VIEW {_identifier(name)} AS {_scan(files)}")
            cur.commit()
            self._views = sorted(wanted)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run sql (with `?` or `$1` placeholders bound to params) and return its rows."""
        try:
            try:
                return self._run(sql, params)
            except duckdb.IOException:
                # A view's files were replaced by a newer partition version since the views
                # were built; one refresh points them at the current files.
                self.refresh()
                return self._run(sql, params)
        except duckdb.Error as exc:
            raise SqlError(str(exc)) from None

    def _run(self, sql: str, params: Sequence[Any] | None) -> pa.Table:
        with self._con.cursor() as cur:
            relation = cur.sql(sql, params=params)
            # Statements that return no rows (DDL, SET, ...) give no relation.
            return pa.table({}) if relation is None else relation.to_arrow_table()

    def close(self) -> None:
        self._con.close()


def view_files(lake: Lake) -> dict[str, dict[date, list[str]]]:
    """Each view's name and the current files of its partitions: a view per dataset, and a
    `quarantine_<dataset>` view per dataset with quarantined rows."""
    wanted = {name: lake.files(name) for name in lake.datasets()}
    wanted |= {QUARANTINE_PREFIX + name: lake.quarantine_files(name) for name in lake.quarantined()}
    return {name: files for name, files in wanted.items() if files}


def _scan(files: dict[date, list[str]]) -> str:
    paths = ", ".join(_literal(path) for dt in sorted(files) for path in files[dt])
    # dt comes from each file's `dt=YYYY-MM-DD` folder; version folders (`_v<id>`) hold no '='.
    return (
        f"SELECT * FROM read_parquet([{paths}], hive_partitioning = true, "
        "hive_types = {'dt': DATE}, union_by_name = true)"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
