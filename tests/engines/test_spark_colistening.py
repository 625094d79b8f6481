"""Co-listening on Spark gives the in-process engine's neighbours (needs the `spark` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import spark_module
from tunelake.engines.colistening import UserArtists, related_artists

spark_colistening = spark_module("tunelake.engines.spark_colistening")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.mark.slow
def test_spark_matches_in_process(spark: SparkSession) -> None:
    rng = np.random.default_rng(11)
    n = 1500
    users = [f"u{u:03d}" for u in rng.integers(0, 150, n)]
    artists = [f"a{a:03d}" for a in rng.zipf(1.3, n) % 80]
    counts = rng.integers(1, 40, n)
    plays = pa.table({"user_id": users, "artist_id": artists, "plays": counts})
    expected = related_artists(UserArtists.from_pairs(users, artists, counts), 6)
    got = spark_colistening.related_artists(spark.createDataFrame(plays.to_pandas()), 6)
    assert got.schema == expected.schema
    assert got.num_rows == expected.num_rows
    assert got.column("artist_id").equals(expected.column("artist_id"))
    assert got.column("related_artist_id").equals(expected.column("related_artist_id"))
    np.testing.assert_allclose(
        got.column("distance").to_numpy(), expected.column("distance").to_numpy(), atol=1e-12
    )


@pytest.mark.slow
def test_spark_counts_play_rows(spark: SparkSession) -> None:
    rows = pa.table({"user_id": ["u", "u", "v", "v", "w"], "artist_id": ["a", "b", "a", "b", "c"]})
    got = spark_colistening.related_artists(spark.createDataFrame(rows.to_pandas()), 3)
    assert got.column("related_artist_id").to_pylist() == ["b", "a"]
