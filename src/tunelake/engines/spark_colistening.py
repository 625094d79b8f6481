"""Co-listening similarity on Spark, for play tables too large for one process.

The same method as `tunelake.engines.colistening`, in DataFrame operations (no extra jars):
BM25 weights per (user, artist) from the play counts, each artist's weights divided by their
L2 norm, then the cosine of two artists is the sum over their common listeners of the product
of their weights: a self-join of the weighted pairs on the user, summed per artist pair. Each
artist keeps its top k by score, ties by artist id (Spark orders strings by their UTF-8
bytes, as the in-process engine does). Sums run in a different order than scipy's, so scores
agree to about 1e-12, not to the bit.

The join makes sum over users of (artists per user)^2 rows: fine for listening histories
(tens to hundreds of artists per user), the shuffle spreads it over the executors.

pyspark is the optional `spark` extra: import this module only when Spark is chosen.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines.colistening import K1, B
from tunelake.engines.similarity import check_k


def weighted(plays: DataFrame, k1: float = K1, b: float = B) -> DataFrame:
    """(user_id, artist_id, w): the BM25 weights of a (user_id, artist_id, plays) frame with
    one row per pair, each artist's column L2-normalised."""
    lengths = plays.groupBy("user_id").agg(F.sum("plays").alias("length")).cache()
    # one job for both constants: the number of users and their mean length
    totals = lengths.agg(F.count("*"), F.avg("length")).first()
    users, mean_length = (totals[0], totals[1]) if totals is not None else (0, None)
    mean_length = mean_length or 1.0
    listeners = plays.groupBy("artist_id").agg(F.count("*").alias("df"))
    idf = F.log1p((F.lit(users) - F.col("df") + 0.5) / (F.col("df") + 0.5))
    norm = (1.0 - b) + b * F.col("length") / F.lit(mean_length)
    bm25 = (
        plays.join(lengths, "user_id")
        .join(listeners, "artist_id")
        .select(
            "user_id",
            "artist_id",
            (F.col("plays") * (k1 + 1.0) / (F.col("plays") + k1 * norm) * idf).alias("w"),
        )
    )
    column_norm = bm25.groupBy("artist_id").agg(F.sqrt(F.sum(F.col("w") * F.col("w"))).alias("n"))
    return bm25.join(column_norm, "artist_id").select(
        "user_id", "artist_id", (F.col("w") / F.col("n")).alias("w")
    )


def top_k(plays: DataFrame, k: int = 10) -> DataFrame:
    """(artist_id, related_artist_id, rank, score): every artist's top k by co-listening
    cosine, from a (user_id, artist_id[, plays]) frame (no plays column: one play a row)."""
    k = check_k(k)
    if "plays" not in plays.columns:
        plays = plays.groupBy("user_id", "artist_id").agg(F.count("*").alias("plays"))
    else:
        plays = plays.groupBy("user_id", "artist_id").agg(F.sum("plays").alias("plays"))
    # the weights feed both sides of the self-join: computed once
    w = weighted(plays).cache()
    left = w.select("user_id", F.col("artist_id").alias("a"), F.col("w").alias("wa"))
    right = w.select("user_id", F.col("artist_id").alias("b"), F.col("w").alias("wb"))
    scores = (
        left.join(right, "user_id")
        .where(F.col("a") != F.col("b"))
        .groupBy("a", "b")
        .agg(F.sum(F.col("wa") * F.col("wb")).alias("score"))
        .where(F.col("score") > 0)
    )
    order = Window.partitionBy("a").orderBy(F.col("score").desc(), F.col("b").asc())
    return (
        scores.withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= k)
        .select(
            F.col("a").alias("artist_id"),
            F.col("b").alias("related_artist_id"),
            F.col("rank").cast("short"),
            "score",
        )
    )


def related_artists(plays: DataFrame, k: int = 10) -> pa.Table:
    """`RELATED_ARTISTS` rows (distance = 1 - score), collected to the driver (k per artist),
    ordered by artist_id and rank."""
    rows = top_k(plays, k).orderBy("artist_id", "rank").toArrow()
    return pa.Table.from_arrays(
        [
            rows["artist_id"],
            rows["related_artist_id"],
            rows["rank"].cast(pa.int16()),
            pc.subtract(1.0, rows["score"]),
        ],
        schema=RELATED_ARTISTS.schema,
    )
