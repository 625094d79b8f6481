"""Recommendation figures, each against a baseline measured in the same process:

1. Real data, the Last.fm HetRec 2011 `user_artists.dat` (GroupLens,
   http://grouplens.org/datasets/hetrec-2011/, non-commercial research use; not in the
   repository: give its path): recall@10 and NDCG@10 of popularity, listening (co-listening,
   item-based) and implicit's ALS on one seeded 20% hold-out; the time to build the
   listening similarity for every artist in-process and on Spark, against ALS's training.
2. The default generated catalog (seed 42, 1,000 artists) with simulated plays: genre
   precision@10 of the neighbour lists per method. The generated catalog's audio features are
   drawn around each artist's genre, so audio is near-perfect there; and simulated users
   pick favourites from two genres, so listening is optimistic too: real-data figures are 1.
3. Scale: listening similarity for 100,000 artists x 1,000,000 users (simulated, ~17
   artists each) in-process: seconds and peak RSS (in a child process, so the figure is its
   own).

    .venv/bin/python benchmarks/bench_recommend.py [--hetrec DIR/user_artists.dat]
        [--events 300000] [--scale-artists 100000] [--scale-users 1000000] [--no-spark]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import scipy.sparse as sp

from tunelake.engines import colistening
from tunelake.engines.colistening import UserArtists
from tunelake.engines.evaluate import evaluate
from tunelake.events.simulator import Faults, Simulator
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.sources.catalog import vocab
from tunelake.sources.catalog.generator import generate_catalog
from tunelake.sources.user_artists import read_user_artists

HETREC = Path("/work/data/hetrec2011-lastfm-2k/user_artists.dat")


def best_of(n: int, run: object) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def hetrec(path: Path, spark: bool) -> None:
    table = read_user_artists(path)
    plays = UserArtists.from_pairs(table["user_id"], table["artist_id"], table["plays"])
    print(f"\n== HetRec 2011 Last.fm: {path}")
    found = evaluate(plays, k=10, holdout=0.2, seed=0)
    print(
        f"{found.users} users, {found.artists} artists, {found.pairs} pairs, "
        f"{found.held_out} held out (20%, seed 0)"
    )
    by = {r.method: r for r in found.results}
    for r in found.results:
        print(f"  {r.method:<11} recall@10 {r.recall:.4f}  NDCG@10 {r.ndcg:.4f}")
    pop, listen = by["popularity"], by["listening"]
    print(
        f"  listening / popularity: recall {listen.recall / pop.recall:.2f}x, NDCG {listen.ndcg / pop.ndcg:.2f}x"
    )
    if "peer-als" in by:
        als = by["peer-als"]
        print(
            f"  listening / ALS:        recall {listen.recall / als.recall:.2f}x, NDCG {listen.ndcg / als.ndcg:.2f}x"
        )
    # build times on the full data (k = 10), best of 3
    in_process = best_of(3, lambda: colistening.top_k(plays, 10))
    print(f"  build listening similarity, in-process: {in_process:.2f} s")
    if "peer-als" in by:
        als_fit = _als_fit_seconds(plays.counts)
        print(
            f"  ALS training (64 factors, 15 iterations, 1 thread): {als_fit:.2f} s "
            f"-> in-process is {als_fit / in_process:.1f}x faster"
        )
    if spark:
        seconds = _spark_seconds(table)
        print(f"  build listening similarity, Spark local[2]: {seconds:.2f} s")


def _als_fit_seconds(counts: sp.csr_matrix) -> float:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight
    from threadpoolctl import threadpool_limits

    weighted = sp.csr_matrix(bm25_weight(counts, K1=100, B=0.8), dtype=np.float32)

    def fit() -> None:
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(
                factors=64, regularization=0.05, iterations=15, random_state=0
            ).fit(weighted, show_progress=False)

    return best_of(3, fit)


def _spark_seconds(table: pa.Table) -> float:
    from tunelake.engines import spark, spark_colistening

    session = spark.session(
        "local[2]", {"spark.sql.shuffle.partitions": "4", "spark.ui.showConsoleProgress": "false"}
    )
    frame = session.createDataFrame(table.to_pandas()).cache()
    frame.count()
    spark_colistening.related_artists(frame, 10)  # warm-up: JVM code paths, Python workers
    return best_of(2, lambda: spark_colistening.related_artists(frame, 10))


def simulated(events: int) -> None:
    catalog = generate_catalog(42, 1000)
    sim = Simulator(
        seed=7,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        rate=50.0,
        users=1000,
        faults=Faults(0, 0, 0),
    )
    users, artists = [], []
    for chunk in sim.lines(events):
        for line in chunk:
            event = orjson.loads(line)
            users.append(event["user_id"])
            artists.append(event["artist_id"])
    plays = UserArtists.from_pairs(users, artists)
    ids = plays.artist_ids.to_pylist()
    vectors, genres = _catalog_features(catalog, ids)
    print(f"\n== default catalog (seed 42, 1,000 artists), {events} simulated plays, 1,000 users")
    print("   (audio features are generated around each artist's genre: audio is optimistic here)")
    found = evaluate(plays, k=10, holdout=0.2, seed=0, vectors=vectors, genres=genres)
    print(f"{found.users} users, {found.artists} artists played, {found.pairs} pairs")
    for r in found.results:
        gp = "-" if r.genre_precision is None else f"{r.genre_precision:.2f}"
        flag = " (uses genres: circular)" if r.uses_genres else ""
        print(f"  {r.method:<11} genre precision@10 {gp}{flag}  recall@10 {r.recall:.4f}")


def _catalog_features(catalog: object, ids: list[str]) -> tuple[np.ndarray, list[frozenset[str]]]:
    """Per artist: the mean audio features of its own tracks (min-max normalised, as the
    pipeline's vectors), and its genres."""
    artists, albums, tracks = catalog.artists, catalog.albums, catalog.tracks  # type: ignore[attr-defined]
    columns = [vocab.FEATURES.index(f) for f in DEFAULT_VECTOR_FEATURES]
    owner = albums.artist[tracks.album]
    has = tracks.has_features
    sums = np.zeros((len(artists.names), len(columns)))
    np.add.at(sums, owner[has], tracks.features[has][:, columns].astype(np.float64))
    n = np.bincount(owner[has], minlength=len(artists.names)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n[:, None]
    low, high = np.nanmin(means, axis=0), np.nanmax(means, axis=0)
    normalised = (means - low) / np.where(high > low, high - low, 1.0)
    position = {a.decode(): i for i, a in enumerate(artists.ids)}
    rows = [position[a] for a in ids]
    genres = [frozenset(vocab.GENRES[g].name for g in artists.genres[r] if g >= 0) for r in rows]
    return normalised[rows], genres


def _scale_child(n_artists: int, n_users: int, queue: multiprocessing.Queue) -> None:
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    per_user = rng.geometric(1 / 17, n_users)
    rows = np.repeat(np.arange(n_users), per_user)
    n = len(rows)
    # 70% of a user's artists from a home cluster of 1,000 (Zipf within), 30% global Zipf
    clusters = max(1, n_artists // 1000)
    cluster = rng.integers(0, clusters, n_users)[rows]
    local = np.minimum(rng.zipf(1.2, n) - 1, min(999, n_artists - 1))
    anywhere = rng.permutation(n_artists)[np.minimum(rng.zipf(1.1, n) - 1, n_artists - 1)]
    artist = np.where(rng.random(n) < 0.7, (cluster * 1000 + local) % n_artists, anywhere)
    counts = rng.geometric(0.05, n).astype(np.float64)
    matrix = sp.csr_matrix((counts, (rows, artist)), shape=(n_users, n_artists))
    matrix.sum_duplicates()
    plays = UserArtists(
        pa.array([f"u{i:07d}" for i in range(n_users)]),
        pa.array([f"a{i:06d}" for i in range(n_artists)]),
        matrix,
    )
    generated = time.perf_counter() - started
    started = time.perf_counter()
    found = colistening.top_k(plays, 10)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    queue.put((matrix.nnz, generated, seconds, peak, float((found.index >= 0).mean())))


def scale(n_artists: int, n_users: int) -> None:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.get_context("fork").Process(
        target=_scale_child, args=(n_artists, n_users, queue)
    )
    child.start()
    pairs, generated, seconds, peak, filled = queue.get()
    child.join()
    print(
        f"\n== scale: {n_artists} artists x {n_users} users, {pairs} user-artist pairs (simulated)"
    )
    print(
        f"  listening similarity, top 10 each, in-process: {seconds:.1f} s "
        f"(generating the plays: {generated:.1f} s); peak RSS {peak:.2f} GiB; "
        f"{filled:.0%} of the 10 slots filled"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hetrec", type=Path, default=HETREC)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--scale-artists", type=int, default=100_000)
    parser.add_argument("--scale-users", type=int, default=1_000_000)
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    if args.hetrec.is_file():
        hetrec(args.hetrec, not args.no_spark)
    else:
        print(f"no HetRec file at {args.hetrec}: skipping the real-data figures")
    simulated(args.events)
    scale(args.scale_artists, args.scale_users)


if __name__ == "__main__":
    main()
