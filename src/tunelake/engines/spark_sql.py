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

from tunelake.engines.spark import spark_path
from tunelake.engines.sql import SqlError, view_files
from tunelake.storage.lake.port import Lake


class SparkSqlEngine:
    def __init__(self, lake: Lake, spark: SparkSession) -> None:
        self._lake = lake
        self._spark = spark
        self._views: list[str] = []
        self.refresh()

    def __repr__(self) -> str:
        return f"SparkSqlEngine({self._lake.url!r}, views={self._views})"

    def views(self) -> list[str]:
        return list(self._views)

    def refresh(self) -> None:
        """Point the views at the partitions' current files; drop those of vanished datasets."""
        wanted = view_files(self._lake)
        for gone in set(self._views) - set(wanted):
            self._spark.catalog.dropTempView(gone)
        for name, files in wanted.items():
            _scan(self._spark, files).createOrReplaceTempView(name)
        self._views = sorted(wanted)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run sql (with `?` placeholders bound to params) and return its rows."""
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
            cause = exc.java_exception if isinstance(exc, Py4JJavaError) else exc
            raise SqlError(str(cause).strip().splitlines()[0]) from None

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
