"""Spark SQL over the lake answers as the DuckDB engine does (needs the `spark` extra)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from tests.conftest import spark_module
from tests.engines.test_sql import (
    ARTIST_IDS,
    DTS,
    FULL_WIDTH_BLUR,
    MIN_MAX_PER_PARTITION,
    PER_ARTIST_AVERAGES,
    TABLES,
    fill,
    rows,
)
from tunelake.engines.sql import SqlEngine, SqlError, open_sql
from tunelake.storage.lake import IcebergLake, open_lake

spark_sql = spark_module("tunelake.engines.spark_sql")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BOUND_NOT_SPLICED = "SELECT * FROM artists WHERE name = ?"
#: The course's queries and every query of tests/engines/test_sql.py, with `?` parameters.
QUERIES: list[tuple[str, list[Any] | None]] = [
    (PER_ARTIST_AVERAGES, None),
    (MIN_MAX_PER_PARTITION, None),
    ("SELECT dt, count(*) FROM top_tracks GROUP BY dt", None),
    ("SELECT reason, dt FROM quarantine_top_tracks", None),
    (
        "SELECT artist_id FROM artists WHERE name = ? AND dt = ?",
        [f"{FULL_WIDTH_BLUR} {ARTIST_IDS[2]} — Sigur Rós", DTS[-1]],
    ),
    (BOUND_NOT_SPLICED, ["x' OR '1'='1"]),
    ("SELECT count(*) FROM top_tracks WHERE dt = ?", [DTS[-1]]),
    ("SELECT * FROM artists", None),
    ("SELECT * FROM top_tracks", None),
    ("SELECT * FROM audio_features", None),
    ("SELECT * FROM quarantine_top_tracks", None),
]


@pytest.fixture
def lake(tmp_path: Path) -> IcebergLake:
    return fill(open_lake(str(tmp_path / "lake")))


@pytest.fixture
def engines(lake: IcebergLake, spark: SparkSession) -> Iterator[tuple[SqlEngine, Any]]:
    duck, on_spark = SqlEngine(lake), spark_sql.SparkSqlEngine(lake, spark)
    yield duck, on_spark
    duck.close()
    on_spark.close()


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Equal rows, floats equal to 12 significant digits (engines sum in their own order).
    Column names are not compared: each engine names an unnamed `count(*)` its own way."""

    def rounded(table: pa.Table) -> list[tuple[Any, ...]]:
        return [
            tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in row)
            for row in rows(table)
        ]

    return a.num_columns == b.num_columns and rounded(a) == rounded(b)


def test_every_query_gives_the_same_rows_on_both_engines(engines: tuple[SqlEngine, Any]) -> None:
    duck, on_spark = engines
    assert on_spark.views() == duck.views()
    empty = []
    for sql, params in QUERIES:
        want = duck.query(sql, params)
        assert same_rows(on_spark.query(sql, params), want), sql
        empty += [sql] if want.num_rows == 0 else []
    assert empty == [BOUND_NOT_SPLICED]  # the others compare rows, not two empty answers


def test_the_views_follow_the_lake(lake: IcebergLake, engines: tuple[SqlEngine, Any]) -> None:
    _, on_spark = engines
    lake.write_partition("top_tracks", DTS[-1], TABLES["top_tracks"][DTS[-1]].slice(0, 1))
    on_spark.refresh()  # the views read one snapshot, as DuckDB's do, until refreshed
    got = on_spark.query("SELECT count(*) FROM top_tracks WHERE dt = ?", [DTS[-1]])
    assert got.column(0).to_pylist() == [1]
    lake.quarantine("top_tracks", DTS[0], pa.table({"reason": pa.array([], pa.string())}))
    on_spark.refresh()
    assert on_spark.views() == ["artists", "audio_features", "top_tracks"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [("SELEC 1", "PARSE_SYNTAX_ERROR"), ("SELECT * FROM related_artists", "TABLE_OR_VIEW")],
)
def test_a_bad_query_raises_sql_error(
    engines: tuple[SqlEngine, Any], sql: str, message: str
) -> None:
    with pytest.raises(SqlError, match=message):
        engines[1].query(sql)


def test_open_sql_picks_the_engine(lake: IcebergLake, spark: SparkSession) -> None:
    assert isinstance(open_sql(lake, "spark"), spark_sql.SparkSqlEngine)
    assert isinstance(open_sql(lake), SqlEngine)
    with pytest.raises(SqlError, match="unknown SQL engine 'presto'"):
        open_sql(lake, "presto")


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE copied AS SELECT * FROM artists",
        "INSERT OVERWRITE DIRECTORY '{tmp}/out' USING parquet SELECT * FROM artists",
        "SET spark.sql.shuffle.partitions = 7",
        "DROP VIEW artists",
        "CACHE TABLE artists",
    ],
)
def test_spark_sql_is_read_only(engines: tuple[SqlEngine, Any], tmp_path: Path, sql: str) -> None:
    on_spark = engines[1]
    with pytest.raises(SqlError, match="read-only"):
        on_spark.query(sql.format(tmp=tmp_path))
    assert not (tmp_path / "out").exists() and "artists" in on_spark.views()
    assert on_spark.query("SELECT count(*) FROM artists").column(0).to_pylist()[0] > 0
