"""The Spark engine: the same exact top-k as `tunelake.engines.similarity`, on PySpark.

A cross join with the distance, then a window ranking each artist's others by (distance,
related id). That is N^2 pairs: fine for moderate N on a cluster, not a replacement for the
in-process tree at millions of artists on one machine. The distance is spelled out as the
canonical formula (squared differences summed in feature order, then the square root), so
that exact ties are the same ties as in process. pyspark is the optional `spark` extra and is
imported only here, inside the functions.
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING

import pyarrow as pa

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines.vectors import vector_matrix

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def spark_top_k(spark: SparkSession | None, vectors: pa.Table, k: int = 10) -> pa.Table:
    """`RELATED_ARTISTS` rows for an `artist_vectors` table, sorted by artist id and rank.

    With `spark=None`, the active session is used, or a local one is started and stopped.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ids = vectors.column("artist_id").combine_chunks()
    if ids.null_count or len(ids) != len(ids.unique()):
        raise ValueError("artist_id must be unique and not null")
    matrix = vector_matrix(vectors)
    if len(ids) < 2:
        return RELATED_ARTISTS.schema.empty_table()
    points = pa.table({"artist_id": ids, **{f"v{j}": matrix[:, j] for j in range(matrix.shape[1])}})
    if spark is not None:
        return _ranked(spark, points, k)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return _ranked(active, points, k)
    session = SparkSession.builder.master("local[*]").appName("tunelake-similarity").getOrCreate()
    try:
        return _ranked(session, points, k)
    finally:
        session.stop()


def _ranked(spark: SparkSession, points: pa.Table, k: int) -> pa.Table:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = spark.createDataFrame(points)
    dims = [name for name in points.column_names if name != "artist_id"]
    left = frame.select(*(F.col(c).alias(f"a_{c}") for c in frame.columns))
    right = frame.select(*(F.col(c).alias(f"b_{c}") for c in frame.columns))
    # Left-associative, in feature order: Spark does not reorder floating-point sums.
    squares = [
        (F.col(f"a_{d}") - F.col(f"b_{d}")) * (F.col(f"a_{d}") - F.col(f"b_{d}")) for d in dims
    ]
    pairs: DataFrame = left.crossJoin(right).where(F.col("a_artist_id") != F.col("b_artist_id"))
    pairs = pairs.select(
        F.col("a_artist_id").alias("artist_id"),
        F.col("b_artist_id").alias("related_artist_id"),
        F.sqrt(functools.reduce(operator.add, squares)).alias("distance"),
    )
    window = Window.partitionBy("artist_id").orderBy("distance", "related_artist_id")
    ranked = (
        pairs.withColumn("rank", F.row_number().over(window))
        .where(F.col("rank") <= k)
        .select("artist_id", "related_artist_id", F.col("rank").cast("short"), "distance")
        .orderBy("artist_id", "rank")
    )
    return ranked.toArrow().cast(RELATED_ARTISTS.schema)
