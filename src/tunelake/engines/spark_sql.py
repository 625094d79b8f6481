"""SQL over the lake on Spark SQL: the views of `tunelake.engines.sql`, on a Spark session.

Every lake dataset is a temporary view under its own name with `dt` as a DATE column, and
every dataset with quarantined rows a `quarantine_<dataset>` view, over the files the lake
names as current (`view_files`, the same listing the DuckDB engine uses). Partitions whose
schemas differ are united by column name, missing columns as nulls, as DuckDB's
`union_by_name` does. A query that fails while running (a view's files replaced by a newer
version since the views were built) refreshes the views and runs once more.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa
from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException, ParseException, PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tunelake.engines.spark import check_storage, spark_path
from tunelake.engines.sql import SqlError, view_files
from tunelake.storage.lake.port import Lake

_COMMAND = "org.apache.spark.sql.catalyst.plans.logical.Command"
#: Parsed statements that write but are not `Command`s in Spark's plan hierarchy.
_WRITES = ("InsertInto", "Create", "Replace", "Drop", "Alter", "Delete", "Update", "Merge")


class SparkSqlEngine:
    def __init__(self, lake: Lake, spark: SparkSession) -> None:
        check_storage(spark, lake.url)
        self._lake = lake
        self._spark = spark
        self._views: list[str] = []
        self.problems: list[str] = []
        self.refresh()

    def __repr__(self) -> str:
        return f"SparkSqlEngine({self._lake.url!r}, views={self._views})"

    def views(self) -> list[str]:
        return list(self._views)

    def refresh(self) -> None:
        """Point the views at the partitions' current files; drop those of vanished datasets."""
        problems: list[str] = []
        wanted = view_files(self._lake, problems=problems)
        self.problems = problems
        for gone in set(self._views) - set(wanted):
            self._spark.catalog.dropTempView(gone)
        for name, files in wanted.items():
            _scan(self._spark, files).createOrReplaceTempView(name)
        self._views = sorted(wanted)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run sql (with `?` placeholders bound to params) and return its rows. Only a query
        runs: a command (INSERT, CREATE, SET, …) is refused before Spark executes it."""
        self._check_read_only(sql)
        try:
            try:
                return self._run(sql, params)
            except (AnalysisException, ParseException):
                raise  # the query itself is wrong: running it again cannot help
            except (PySparkException, Py4JJavaError):
                # A view's files were replaced by a newer partition version since the views
                # were built; one refresh points them at the current files.
                self.refresh()
                return self._run(sql, params)
        except (PySparkException, Py4JJavaError) as exc:
            raise SqlError(_first_line(exc)) from None

    def _check_read_only(self, sql: str) -> None:
        # spark.sql() runs a command at once, so the statement is parsed, not run, to check it.
        session = self._spark._jsparkSession  # type: ignore[attr-defined]
        try:
            plan = session.sessionState().sqlParser().parsePlan(sql)
        except (PySparkException, Py4JJavaError) as exc:
            raise SqlError(_first_line(exc)) from None
        jvm = self._spark._jvm
        command = jvm.java.lang.Class.forName(_COMMAND)  # type: ignore[union-attr]
        kind = plan.getClass().getSimpleName()
        if command.isInstance(plan) or kind.startswith(_WRITES):
            raise SqlError(
                f"tunelake sql is read-only: only queries run, not {kind} "
                "(no statement may write or change stored data)"
            )

    def _run(self, sql: str, params: Sequence[Any] | None) -> pa.Table:
        return self._spark.sql(sql, args=list(params) if params is not None else None).toArrow()

    def close(self) -> None:
        for name in self._views:
            self._spark.catalog.dropTempView(name)
        self._views = []


def _scan(spark: SparkSession, files: dict[date, list[str]]) -> DataFrame:
    partitions = (
        spark.read.parquet(*(spark_path(url) for url in files[dt])).withColumn("dt", F.lit(dt))
        for dt in sorted(files)
    )
    return functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), partitions)


def _first_line(exc: PySparkException | Py4JJavaError) -> str:
    cause = exc.java_exception if isinstance(exc, Py4JJavaError) else exc
    return str(cause).strip().splitlines()[0]
