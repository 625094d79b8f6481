"""Exact top-k similarity: tunelake's engine against baselines run in the same process.

For each N (random uniform [0, 1) vectors, fixed seed), it times:
- tunelake: `tunelake.engines.similarity.top_k` (k-d tree candidates, exact float64 re-rank);
- faiss: `IndexFlatL2` exact search for k + 1, self dropped (float32). When the projected time
  (measured on a query sample) exceeds --faiss-budget seconds, only the sample runs and the
  full time is extrapolated, marked "est.";
- loop: the course's method, a pure-Python nested loop, at N <= --loop-max;
- BLAS brute: chunked |a|^2 + |b|^2 - 2ab with argpartition (approximate candidates only),
  at N <= --blas-max: the other algorithm the engine could use;
and checks exactness against a brute force over every pair (all rows where it fits, a sample
of --check-rows rows above --full-check-max) and faiss's agreement modulo near-ties.

    .venv/bin/python benchmarks/bench_similarity.py [--sizes 1000,10000,100000,1000000]
        [--k 10] [--dim 8] [--seed 7] [--faiss-budget 300] [--check-rows 500]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import faiss
import numpy as np

from tunelake.engines.similarity import Neighbours, canonical_distances, top_k

FAISS_SAMPLE = 5_000
NEAR_TIE_REL = 1e-5  # float32 distances carry ~1e-7 relative error; this is well above it
T = TypeVar("T")


@dataclass
class Row:
    n: int
    engine_s: float
    engine_cpu_s: float
    load: float
    engine_peak_mb: float
    rss_mb: float
    faiss_s: float | None = None
    faiss_estimated: bool = False
    faiss_agreement: str = "-"
    loop_s: float | None = None
    blas_s: float | None = None
    exact: str = "-"


def timed(call: Callable[[], T], repeats: int = 1) -> tuple[T, float]:
    """The result and the best wall time of `repeats` runs (other load only adds time)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return result, best


def traced(call: Callable[[], T]) -> tuple[T, float, float, float]:
    """The result, wall time, CPU time (all threads) and tracemalloc peak (MiB) of one run."""
    tracemalloc.start()
    try:
        cpu = time.process_time()
        result, seconds = timed(call)
        cpu = time.process_time() - cpu
        return result, seconds, cpu, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def id_ranks(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Ids in shuffled order (so id order is not row order), and each row's id rank."""
    rank = rng.permutation(n)
    return [f"artist-{r:07d}" for r in rank.tolist()], rank


def brute_force_top_k(
    vectors: np.ndarray, rank: np.ndarray, k: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of `rows` against every vector: all distances, then (distance, id) order."""
    n = len(vectors)
    everyone = np.arange(n)
    chunk = max(1, (1 << 22) // n)
    index = np.empty((len(rows), k), np.int64)
    distance = np.empty((len(rows), k), np.float64)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        dist = canonical_distances(
            vectors, vectors[part], np.broadcast_to(everyone, (len(part), n))
        )
        dist[np.arange(len(part)), part] = np.inf
        kth = np.partition(dist, k - 1, axis=1)[:, k - 1]
        for i, row_dist in enumerate(dist):
            within = np.flatnonzero(row_dist <= kth[i])
            best = within[np.lexsort((rank[within], row_dist[within]))[:k]]
            index[start + i] = best
            distance[start + i] = row_dist[best]
    return index, distance


def python_loop_top_k(vectors: list[list[float]], k: int) -> list[list[int]]:
    """The course's method: every pair in Python, sort each artist's list."""
    result = []
    for i, u in enumerate(vectors):
        scored = []
        for j, v in enumerate(vectors):
            if i != j:
                scored.append((math.sqrt(sum((a - b) ** 2 for a, b in zip(u, v, strict=True))), j))
        scored.sort()
        result.append([j for _, j in scored[:k]])
    return result


def blas_candidates(vectors: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Chunked GEMM brute force: the k + 1 smallest approximate distances (self included)."""
    squares = np.einsum("ij,ij->i", vectors, vectors)
    out = np.empty((len(vectors), k + 1), np.int64)
    for start in range(0, len(vectors), chunk):
        block = vectors[start : start + chunk]
        d2 = squares[start : start + chunk, None] + squares[None, :] - 2.0 * (block @ vectors.T)
        out[start : start + chunk] = np.argpartition(d2, k, axis=1)[:, : k + 1]
    return out


def faiss_search(
    vectors32: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexFlatL2(vectors32.shape[1])
    index.add(vectors32)
    return index.search(vectors32[queries], k + 1)


def drop_self(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Each row's k + 1 results without itself (or without the last when self is absent)."""
    keep = found != rows[:, None]
    keep[keep.sum(axis=1) > k, -1] = False
    return found[keep].reshape(len(rows), k)


def faiss_agreement(
    vectors: np.ndarray, rows: np.ndarray, faiss_found: np.ndarray, ours: Neighbours
) -> str:
    """Rows where faiss's set equals ours; the rest must differ only by near-tied neighbours."""
    mine = ours.index[rows]
    same = np.array(
        [set(a) == set(b) for a, b in zip(faiss_found.tolist(), mine.tolist(), strict=True)]
    )
    real = 0
    for i in np.flatnonzero(~same):
        extra = np.setdiff1d(faiss_found[i], mine[i])
        kth = ours.distance[rows[i], -1]
        theirs = canonical_distances(vectors, vectors[rows[i : i + 1]], extra[None, :])[0]
        real += int((theirs > kth * (1 + NEAR_TIE_REL)).any())
    return f"{same.sum()}/{len(rows)} same, {real} real mismatches"


def measure(n: int, args: argparse.Namespace) -> Row:
    rng = np.random.default_rng(args.seed + n)
    vectors = rng.random((n, args.dim))
    ids, rank = id_ranks(n, rng)
    k = args.k

    # Short runs are repeated (best of), for every engine alike; long ones run once, traced:
    # tracemalloc costs per allocation, and the engine makes few, large ones.
    repeats = args.repeats if n <= args.repeat_max else 1
    load = os.getloadavg()[0]
    ours, engine_s, cpu_s, peak_mb = traced(lambda: top_k(ids, vectors, k))
    if repeats > 1:
        engine_s = min(engine_s, timed(lambda: top_k(ids, vectors, k), repeats)[1])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = Row(n, engine_s, cpu_s, load, peak_mb, rss_mb)

    check = (
        np.arange(n) if n <= args.full_check_max else rng.choice(n, args.check_rows, replace=False)
    )
    want_index, want_distance = brute_force_top_k(vectors, rank, k, check)
    exact = (ours.index[check] == want_index).all() and (
        ours.distance[check] == want_distance
    ).all()
    row.exact = f"{'yes' if exact else 'NO'} ({len(check)} rows)"

    vectors32 = vectors.astype(np.float32)
    sample = np.arange(n) if n <= FAISS_SAMPLE else rng.choice(n, FAISS_SAMPLE, replace=False)
    (_, found), sample_s = timed(lambda: faiss_search(vectors32, sample, k), repeats)
    projected = sample_s * n / len(sample)
    if len(sample) == n or projected > args.faiss_budget:
        row.faiss_s, row.faiss_estimated, rows = projected, len(sample) < n, sample
    else:
        everyone = np.arange(n)
        (_, found), row.faiss_s = timed(lambda: faiss_search(vectors32, everyone, k), repeats)
        rows = everyone
    row.faiss_agreement = faiss_agreement(vectors, rows, drop_self(found, rows, k), ours)

    if n <= args.loop_max:
        as_lists = vectors.tolist()
        _, row.loop_s = timed(lambda: python_loop_top_k(as_lists, k), repeats)
    if n <= args.blas_max:
        _, row.blas_s = timed(lambda: blas_candidates(vectors, k), repeats)
    return row


def ratio(baseline: float | None, ours: float) -> str:
    return "-" if baseline is None else f"{baseline / ours:,.1f}x"


def seconds(value: float | None, estimated: bool = False) -> str:
    return "-" if value is None else f"{value:,.3f}{' est.' if estimated else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faiss-budget", type=float, default=300.0, help="seconds")
    parser.add_argument("--loop-max", type=int, default=1_000)
    parser.add_argument("--blas-max", type=int, default=10_000)
    parser.add_argument("--full-check-max", type=int, default=10_000)
    parser.add_argument("--check-rows", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="best of, at N <= --repeat-max")
    parser.add_argument("--repeat-max", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"k={args.k} D={args.dim} seed={args.seed} faiss threads={faiss.omp_get_max_threads()}")
    header = (
        f"{'N':>9} {'load':>5} {'tunelake s':>11} {'cpu s':>7} {'faiss s':>14} {'vs faiss':>9} "
        f"{'loop s':>8} {'vs loop':>9} {'BLAS brute s':>12} {'peak MB':>8} {'rss MB':>7}  "
        "exact / faiss agreement"
    )
    print(header)
    for n in sizes:
        r = measure(n, args)
        print(
            f"{r.n:>9,} {r.load:>5.1f} {r.engine_s:>11.3f} {r.engine_cpu_s:>7.1f} "
            f"{seconds(r.faiss_s, r.faiss_estimated):>14} {ratio(r.faiss_s, r.engine_s):>9} "
            f"{seconds(r.loop_s):>8} {ratio(r.loop_s, r.engine_s):>9} {seconds(r.blas_s):>12} "
            f"{r.engine_peak_mb:>8.0f} {r.rss_mb:>7.0f}  {r.exact} / {r.faiss_agreement}",
            flush=True,
        )
    print(
        "vs X = X's time / tunelake's time; times are the best of --repeats runs at "
        "N <= --repeat-max, else one run; peak MB = tracemalloc peak of one engine call "
        "(NumPy and Python heap); rss MB = the process's max RSS so far; load = 1-min load "
        "average before the run; cpu s = tunelake's CPU time over both cores, one run."
    )


if __name__ == "__main__":
    main()
