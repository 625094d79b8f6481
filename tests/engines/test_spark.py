"""The Spark engine gives the in-process engine's exact answer (needs the `spark` extra)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines.similarity import related_artists
from tunelake.engines.spark import spark_top_k

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("tunelake-test")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def vectors_table(vectors: np.ndarray, seed: int) -> pa.Table:
    ids = [f"artist-{v:05d}" for v in np.random.default_rng(seed).permutation(len(vectors))]
    return pa.table({"artist_id": ids, "vector": vectors.tolist()})


def in_process(vectors: pa.Table, k: int) -> pa.Table:
    return related_artists(vectors, k).sort_by([("artist_id", "ascending"), ("rank", "ascending")])


def test_random_vectors_equal_the_in_process_engine(spark: SparkSession) -> None:
    vectors = vectors_table(np.random.default_rng(0).random((300, 8)), seed=1)
    got = spark_top_k(spark, vectors, k=10)
    assert got.schema == RELATED_ARTISTS.schema
    assert got.num_rows == 300 * 10
    assert got.equals(in_process(vectors, 10))


def test_ties_and_duplicates_equal_the_in_process_engine(spark: SparkSession) -> None:
    grid = np.random.default_rng(2).integers(0, 3, (150, 3)) * 0.1
    vectors = vectors_table(grid, seed=3)
    assert spark_top_k(spark, vectors, k=7).equals(in_process(vectors, 7))


def test_small_inputs_and_bad_k(spark: SparkSession) -> None:
    one = vectors_table(np.zeros((1, 2)), seed=4)
    assert spark_top_k(spark, one, k=3).num_rows == 0
    three = vectors_table(np.eye(3), seed=5)
    assert spark_top_k(spark, three, k=5).equals(in_process(three, 5))
    # None takes the active session (the fixture's) rather than starting another.
    assert spark_top_k(None, three, k=2).equals(in_process(three, 2))
    with pytest.raises(ValueError, match="positive integer"):
        spark_top_k(spark, three, k=0)
