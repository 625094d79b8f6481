"""Exact top-k on Spark: tunelake's engine against the course's cross join, in one process.

For each N (random uniform [0, 1) vectors, fixed seed, ids in shuffled order) the vectors are
written once as an artist_vectors Parquet file, then timed from that file to the neighbours
as Arrow in the driver (what the transform writes):
- tunelake spark: `tunelake.engines.spark.related_artists` (broadcast k-d tree, mapInArrow);
- cross join: the course's method, written here: crossJoin, canonical distance, window rank
  (N <= --cross-max);
- in process: `tunelake.engines.similarity.top_k` on the same two cores.
Exactness: Spark's rows equal the in-process engine's (ids, ranks, distances to the bit); the
cross join's the same ids at the same ranks, distances within 1e-9 relative.
Memory: peaks sampled every 0.1 s: the driver's Python, the JVM (driver and executor in
local mode) and the Python workers together.

--transform-sizes also times the whole transform from the lake (top tracks and audio
features, 10 tracks per artist) on Spark against the in-process transform.

--cluster compares masters in one process instead: it starts a standalone cluster on loopback
(a master and two workers of one core and 1 GB, `tunelake.localservices.spark_cluster`) and
times its start-up, then runs the --transform-sizes transforms on `local[2]` and on the
cluster, one session after the other (a session's start-up timed apart from its transform).

    .venv/bin/python benchmarks/bench_spark.py [--cross 20000] [--sizes 100000,1000000]
        [--transform-sizes 100000] [--k 10] [--dim 8] [--master local[2]]
    .venv/bin/python benchmarks/bench_spark.py --cluster [--transform-sizes 100000]
"""

from __future__ import annotations

import argparse
import functools
import operator
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from tunelake.datasets import AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS
from tunelake.engines import spark as spark_engine
from tunelake.engines.similarity import related_artists, top_k
from tunelake.engines.vectors import artist_vectors
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.storage.lake import IcebergLake, open_lake

T = TypeVar("T")
DT = date(2026, 11, 26)


@dataclass
class Peaks:
    jvm_mb: float = 0.0
    workers_mb: float = 0.0


@contextmanager
def sampled(spark: SparkSession) -> Iterator[Peaks]:
    """Peak RSS of the JVM and of its Python workers (summed) while the block runs."""
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # type: ignore[attr-defined, union-attr]
    peaks, done = Peaks(), threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            try:
                workers = sum(p.memory_info().rss for p in jvm.children(recursive=True))
                peaks.jvm_mb = max(peaks.jvm_mb, jvm.memory_info().rss / 2**20)
                peaks.workers_mb = max(peaks.workers_mb, workers / 2**20)
            except psutil.Error:
                continue  # a worker ended between the listing and the read

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        done.set()
        thread.join()


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """The result, the wall time and the process's CPU time (all threads) of one run."""
    start, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - start, time.process_time() - cpu


def vectors_file(n: int, dim: int, seed: int, folder: Path) -> tuple[Path, pa.Table]:
    rng = np.random.default_rng(seed + n)
    ids = pa.array([f"artist-{r:07d}" for r in rng.permutation(n).tolist()])
    values = rng.random((n, dim))
    vector = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), dim).cast(
        pa.list_(pa.float64())
    )
    table = pa.table({"artist_id": ids, "vector": vector})
    path = folder / f"vectors-{n}.parquet"
    pq.write_table(table, path)
    return path, table


def cross_join(vectors: DataFrame, dim: int, k: int) -> DataFrame:
    """The course's algorithm: every pair, the canonical distance, a window rank."""
    frame = vectors.select("artist_id", *(F.col("vector")[j].alias(f"v{j}") for j in range(dim)))
    left = frame.select(*(F.col(c).alias(f"a_{c}") for c in frame.columns))
    right = frame.select(*(F.col(c).alias(f"b_{c}") for c in frame.columns))
    squares = [(F.col(f"a_v{j}") - F.col(f"b_v{j}")) ** 2 for j in range(dim)]
    pairs = left.crossJoin(right).where(F.col("a_artist_id") != F.col("b_artist_id"))
    pairs = pairs.select(
        F.col("a_artist_id").alias("artist_id"),
        F.col("b_artist_id").alias("related_artist_id"),
        F.sqrt(functools.reduce(operator.add, squares)).alias("distance"),
    )
    best = Window.partitionBy("artist_id").orderBy("distance", "related_artist_id")
    return (
        pairs.withColumn("rank", F.row_number().over(best).cast("short"))
        .where(F.col("rank") <= k)
        .select(*RELATED_ARTISTS.schema.names)
    )


def search(vectors: DataFrame, k: int) -> pa.Table:
    with spark_engine.related_artists(vectors, k) as related:
        return to_arrow(related)


def to_arrow(frame: DataFrame) -> pa.Table:
    table = frame.toArrow().cast(RELATED_ARTISTS.schema)
    return table.sort_by([("artist_id", "ascending"), ("rank", "ascending")])


def same_ids_close_distances(a: pa.Table, b: pa.Table) -> bool:
    ids = a.select(["artist_id", "related_artist_id", "rank"])
    distance_a, distance_b = a.column("distance").to_numpy(), b.column("distance").to_numpy()
    close = np.allclose(distance_a, distance_b, rtol=1e-9, atol=0)
    return ids.equals(b.select(["artist_id", "related_artist_id", "rank"])) and close


def in_process_neighbours(table: pa.Table, k: int) -> pa.Table:
    ids = table.column("artist_id")
    matrix = np.asarray(table.column("vector").combine_chunks().flatten()).reshape(len(ids), -1)
    result = top_k(ids, matrix, k).to_table(ids)
    return result.sort_by([("artist_id", "ascending"), ("rank", "ascending")])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def neighbours_row(
    spark: SparkSession, n: int, path: Path, table: pa.Table, args: argparse.Namespace
) -> None:
    load = os.getloadavg()[0]
    vectors = spark.read.parquet(str(path))
    with sampled(spark) as peaks:
        ours, spark_s, _ = timed(lambda: search(vectors, args.k))
    want, process_s, process_cpu = timed(lambda: in_process_neighbours(table, args.k))
    exact = "yes" if ours.equals(want) else "NO"
    cross = "-"
    if n <= args.cross:
        theirs, cross_s, _ = timed(lambda: to_arrow(cross_join(vectors, args.dim, args.k)))
        agrees = "exact" if same_ids_close_distances(theirs, want) else "DIFFERS"
        cross = f"{cross_s:,.1f} s ({cross_s / spark_s:,.1f}x, {agrees})"
    print(
        f"{n:>9,} {load:>5.1f} {spark_s:>9.1f} {process_s:>8.1f} {process_cpu:>6.1f} "
        f"{spark_s / process_s:>7.2f}x {exact:>6} {rss_mb():>9,.0f} {peaks.jvm_mb:>8,.0f} "
        f"{peaks.workers_mb:>9,.0f}  {cross}",
        flush=True,
    )


def lake_inputs(n: int, seed: int, folder: Path) -> tuple[IcebergLake, pa.Table, pa.Table]:
    """A lake holding the dt's top tracks (10 per artist) and their audio features."""
    rng = np.random.default_rng(seed)
    tracks = pa.array([f"track-{i:08d}" for i in range(10 * n)])
    top = pa.table(
        {
            "artist_id": pa.array([f"artist-{i:07d}" for i in rng.permutation(n)]).take(
                pa.array(np.repeat(np.arange(n), 10))
            ),
            "track_id": tracks,
            "rank": pa.array(np.tile(np.arange(1, 11, dtype=np.int16), n)),
        }
    ).cast(TOP_TRACKS.schema)
    columns = {f.name: pa.nulls(10 * n, f.type) for f in AUDIO_FEATURES.schema}
    columns |= {"track_id": tracks, "source": pa.array(["spotify"] * (10 * n))}
    for name in DEFAULT_VECTOR_FEATURES:
        field = AUDIO_FEATURES.schema.field(name)
        columns[name] = pa.array(rng.random(10 * n) * 100).cast(field.type, safe=False)
    audio = pa.table(columns).cast(AUDIO_FEATURES.schema)
    lake = open_lake(str(folder / f"lake-{n}"))
    lake.write_partition("top_tracks", DT, top)
    lake.write_partition("audio_features", DT, audio)
    return lake, top, audio


def transform_row(spark: SparkSession, n: int, folder: Path, args: argparse.Namespace) -> float:
    """Print one row (the transform on spark against in process); returns Spark's seconds."""
    load = os.getloadavg()[0]
    lake, top, audio = lake_inputs(n, args.seed, folder)
    with sampled(spark) as peaks:
        (vectors, related), spark_s, _ = timed(
            lambda: spark_engine.transform(spark, lake, DT, DEFAULT_VECTOR_FEATURES, args.k)
        )

    def in_process() -> tuple[pa.Table, pa.Table]:
        want_vectors = artist_vectors(top, audio, DEFAULT_VECTOR_FEATURES)
        return want_vectors, related_artists(want_vectors, args.k)

    (want_vectors, want_related), process_s, _ = timed(in_process)
    exact = "yes" if vectors.equals(want_vectors) and related.equals(want_related) else "NO"
    print(
        f"{n:>9,} {load:>5.1f} {spark_s:>9.1f} {process_s:>8.1f} {spark_s / process_s:>7.2f}x "
        f"{exact:>6} {peaks.jvm_mb:>8,.0f} {peaks.workers_mb:>9,.0f}",
        flush=True,
    )
    return spark_s


TRANSFORM_HEADER = (
    f"{'N':>9} {'load':>5} {'spark s':>9} {'proc s':>8} {'vs proc':>8} {'exact':>6} "
    f"{'JVM MB':>8} {'pyexec MB':>9}"
)


def compare_masters(args: argparse.Namespace, conf: dict[str, str]) -> None:
    """The transform on local[2] and on a 2-worker standalone cluster, in this process."""
    from tunelake.localservices.spark_cluster import spark_cluster

    sizes = [int(s) for s in args.transform_sizes.split(",") if s]
    spark_s: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        with spark_cluster(folder / "cluster") as cluster:
            up_s = time.perf_counter() - started
            print(f"cluster start-up (master + 2 workers ALIVE): {up_s:.1f} s", flush=True)
            for master in ("local[2]", cluster.master_url):
                spark, session_s, _ = timed(functools.partial(spark_engine.session, master, conf))
                spark.sparkContext.setLogLevel("ERROR")
                print(
                    f"{master}: session start-up {session_s:.1f} s "
                    f"(default parallelism {spark.sparkContext.defaultParallelism})"
                )
                print(TRANSFORM_HEADER)
                spark_s[master] = {n: transform_row(spark, n, folder, args) for n in sizes}
                spark.stop()
            for n in sizes:
                local, remote = spark_s["local[2]"][n], spark_s[cluster.master_url][n]
                print(
                    f"N={n:,}: cluster {remote:.1f} s vs local[2] {local:.1f} s = "
                    f"{remote / local:.2f}x; start-up: cluster {up_s:.1f} s once"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cross", type=int, default=20_000, help="N of the cross join")
    parser.add_argument("--sizes", default="100000,1000000", help="more N, tunelake only")
    parser.add_argument("--transform-sizes", default="100000")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="start a 2-worker standalone cluster and compare the transform with local[2]",
    )
    args = parser.parse_args()
    # The cross join's row comes last: it takes longer than all the others together.
    sizes = [*(int(s) for s in args.sizes.split(",") if s), args.cross]
    conf = {
        "spark.driver.memory": args.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    if args.cluster:
        compare_masters(args, conf)
        return
    spark = spark_engine.session(args.master, conf)
    spark.sparkContext.setLogLevel("ERROR")
    print(
        f"k={args.k} D={args.dim} master={args.master} cores={os.cpu_count()} "
        f"shuffle partitions={spark.conf.get('spark.sql.shuffle.partitions')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm_up = spark.read.parquet(str(vectors_file(50, args.dim, 0, folder)[0]))
        search(warm_up, 3)  # the JVM and the Python workers started
        transform_sizes = [int(s) for s in args.transform_sizes.split(",") if s]
        if transform_sizes:
            print("whole transform, from the lake's top tracks and audio features to the lake:")
            print(TRANSFORM_HEADER)
            for n in transform_sizes:
                transform_row(spark, n, folder, args)
        print("neighbour search, from an artist_vectors Parquet file to Arrow in the driver:")
        print(
            f"{'N':>9} {'load':>5} {'spark s':>9} {'proc s':>8} {'cpu s':>6} {'vs proc':>8} "
            f"{'exact':>6} {'drv MB':>9} {'JVM MB':>8} {'pyexec MB':>9}  "
            "course cross join (vs spark)"
        )
        for n in sizes:
            path, table = vectors_file(n, args.dim, args.seed, folder)
            neighbours_row(spark, n, path, table, args)
    print(
        "spark s / proc s: wall times of one run each (Spark on --master, in process on every "
        "core); vs proc = spark / in process; cpu s = the in-process engine's CPU time; "
        "drv MB = this process's max RSS so far; JVM MB, pyexec MB = peak RSS of the JVM "
        "(driver + executor in local mode) and of its Python workers together; load = 1-min "
        "load average before the row (other engineers share the cores)."
    )


if __name__ == "__main__":
    main()
