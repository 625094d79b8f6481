"""Exact top-k Euclidean neighbours, in process.

A k-d tree (scipy's cKDTree) proposes candidates in about N log N; the ranking is then redone
in float64 with one canonical distance formula, so the result is exact and the same as any
brute force that sums squared differences in feature order:

- self is excluded by index, not by distance 0, so duplicate vectors are each other's
  neighbours;
- equal float64 distances are ordered by artist id (lexicographic, code-point order);
- the tree's own distances may differ from the canonical ones in the last bits, so a row is
  accepted only when every point that could reach its k-th distance is among the candidates;
  otherwise the row is queried again with twice as many candidates (exact ties, duplicates).

The queries go to a thread per core in chunks of the tree's leaf order (the tree query and
NumPy's large loops release the GIL), each chunk answered alone, so the answer does not
depend on the number of threads. `ExactIndex` answers any set of query vectors against a
reference set: the Spark engine (`tunelake.engines.spark`) runs it in every executor.

Measured against a chunked BLAS brute force (benchmarks/bench_similarity.py), the tree is
faster from N ~ 300 up (3.5x at 3,000, 6x at 10,000) and both take about a millisecond
below, so the tree is used for every N.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines.vectors import vector_matrix

Ids: TypeAlias = Sequence[str] | pa.Array | pa.ChunkedArray | np.ndarray

#: The tree's distances and the canonical ones differ by a few ulps (summation order); this
#: relative margin is far above that, and only makes near-ties take one more query.
_REL_MARGIN = 1e-12
#: Points per leaf of the k-d tree. At D = 8 the search visits many leaves whatever their size;
#: fewer, larger ones cost fewer node visits (SciPy's default 16 is 1.2x slower at 100,000).
_LEAF_SIZE = 32
#: Candidates (rows x width) handled per tree query: bounds memory for any N and width.
_BATCH_CANDIDATES = 1 << 20


@dataclass(frozen=True)
class Neighbours:
    """Row i's neighbours: positions into the input (`index`) and distances, nearest first."""

    index: np.ndarray
    """int64, N x k' with k' = min(k, N - 1)."""
    distance: np.ndarray
    """float64, N x k'."""

    def to_table(self, ids: Ids) -> pa.Table:
        """The neighbours as `tunelake.datasets.RELATED_ARTISTS` rows, in input order, rank 1..k'."""
        names = id_array(ids, len(self.index))
        n, width = self.index.shape
        return pa.Table.from_arrays(
            [
                names.take(np.repeat(np.arange(n), width)),
                names.take(self.index.ravel()),
                pa.array(np.tile(np.arange(1, width + 1, dtype=np.int16), n)),
                pa.array(self.distance.ravel()),
            ],
            schema=RELATED_ARTISTS.schema,
        )


def top_k(ids: Ids, vectors: np.ndarray, k: int = 10, workers: int = -1) -> Neighbours:
    """The exact k nearest neighbours of every vector among the others (Euclidean).

    `ids[i]` names `vectors[i]`; ids must be unique and are used to break distance ties.
    The queries are spread over `workers` threads (-1: every core the process may use).
    """
    k = check_k(k)
    matrix = _matrix(vectors)
    n = len(matrix)
    width = min(k, n - 1)
    if width <= 0:  # no artist has another: no tree to build (SciPy fails on no columns)
        id_array(ids, n)  # the ids are checked all the same
        return Neighbours(np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float64))
    index = ExactIndex(matrix, id_rank(id_array(ids, n)))
    # Querying in the tree's leaf order keeps consecutive queries in the same nodes (cache).
    order = index.tree.indices.astype(np.int64)
    threads = _threads(workers, n)
    # Four chunks per thread at least, so that threads finish together.
    step = max(1, min(_BATCH_CANDIDATES // (width + 2), -(-n // (4 * threads))))
    chunks = [order[start : start + step] for start in range(0, n, step)]
    found = np.empty((n, width), np.int64)
    distance = np.empty((n, width), np.float64)

    def answer(rows: np.ndarray) -> None:
        found[rows], distance[rows] = index.query(matrix[rows], rows, width)

    # The tree query and NumPy's large loops release the GIL, so threads share the work.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(answer, chunks))
    return Neighbours(found, distance)


def related_artists(vectors: pa.Table, k: int = 10) -> pa.Table:
    """`RELATED_ARTISTS` rows for an `artist_vectors` table: each artist's exact top k."""
    ids = vectors.column("artist_id")
    return top_k(ids, vector_matrix(vectors), k).to_table(ids)


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


class ExactIndex:
    """Exact top-k queries against a reference set: k-d tree candidates, canonical re-rank.

    `id_rank[i]` is reference row i's place in id order (ties are broken by it). A query
    may be a reference row itself (`own` gives its row, -1 when it is not one): it is then
    left out of its own answer.
    """

    def __init__(self, matrix: np.ndarray, ranks: np.ndarray) -> None:
        self.matrix = _matrix(matrix)
        self.id_rank = ranks
        from scipy.spatial import cKDTree  # ~40 MB: imported by the similarity step only

        self.tree = cKDTree(self.matrix, leafsize=_LEAF_SIZE, balanced_tree=False)

    def query(
        self, queries: np.ndarray, own: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each query's `width` nearest reference rows and their distances, nearest first;
        a row with fewer others has the rest as row -1 at distance inf."""
        n = len(self.matrix)
        found = np.full((len(queries), width), -1, np.int64)
        distance = np.full((len(queries), width), np.inf)
        pending = np.arange(len(queries))
        # Self plus width + 1 others: the one past the last shows whether the last is tied.
        n_candidates = min(width + 2, n)
        while pending.size:
            rows, dist, resolved = self._rank(queries[pending], own[pending], width, n_candidates)
            done = pending[resolved]
            found[done], distance[done] = rows[resolved], dist[resolved]
            pending = pending[~resolved]
            n_candidates = min(2 * n_candidates, n)
        missing = np.isinf(distance)
        found[missing] = -1
        return found, distance

    def _rank(
        self, queries: np.ndarray, own: np.ndarray, width: int, n_candidates: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The top `width` of each query among the tree's `n_candidates`, and which are sure."""
        tree_distance, candidates = self.tree.query(queries, k=n_candidates)
        tree_distance = tree_distance.reshape(len(queries), n_candidates)
        candidates = candidates.reshape(len(queries), n_candidates)
        dist = canonical_distances(self.matrix, queries, candidates)
        dist[candidates == own[:, None]] = np.inf
        order = np.lexsort((self.id_rank[candidates], dist), axis=-1)[:, :width]
        found = np.take_along_axis(candidates, order, axis=-1)
        found_distance = np.take_along_axis(dist, order, axis=-1)
        # Every point at a canonical distance <= the last found has a tree distance below
        # this bound, hence is among the candidates when the farthest candidate lies beyond.
        resolved = (n_candidates >= len(self.matrix)) | (
            found_distance[:, -1] * (1 + _REL_MARGIN) < tree_distance[:, -1]
        )
        return found, found_distance, resolved


def canonical_distances(
    matrix: np.ndarray, queries: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """float64 distances from `queries[i]` (vectors) to `matrix[candidates[i, j]]`.

    Squared differences are summed one feature at a time, in feature order, then square-rooted:
    the formula every engine uses, so that equal distances are equal to the last bit.
    """
    diff = matrix[candidates] - queries[:, None, :]
    total = diff[..., 0] * diff[..., 0]
    for j in range(1, matrix.shape[1]):
        total += diff[..., j] * diff[..., j]
    return np.sqrt(total)


def _threads(workers: int, tasks: int) -> int:
    if workers == 0 or workers < -1:
        raise ValueError(f"workers must be -1 (every core) or positive, got {workers}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(tasks, (cores or 1) if workers == -1 else workers))


def _matrix(vectors: np.ndarray) -> np.ndarray:
    try:
        matrix = np.ascontiguousarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"vectors must be a numeric N x D array: {exc}") from exc
    if matrix.ndim != 2:
        raise ValueError(f"vectors must be a 2-D N x D array, got shape {matrix.shape}")
    if matrix.shape[1] == 0 and len(matrix) > 0:
        raise ValueError("vectors must have at least one dimension")
    if not np.isfinite(matrix).all():
        bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
        raise ValueError(f"vectors hold NaN or infinite values in rows {bad[:10].tolist()}")
    return matrix


def id_array(ids: Ids, n: int) -> pa.Array:
    """`ids` as a string array of length n, without nulls (ValueError otherwise)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    try:
        array = ids if isinstance(ids, pa.Array) else pa.array(ids, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"ids must be strings: {exc}") from exc
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise ValueError(f"ids must be strings, got {array.type}")
    if len(array) != n:
        raise ValueError(f"got {len(array)} ids for {n} vectors")
    if array.null_count:
        raise ValueError(f"ids hold {array.null_count} null values")
    return array


def id_rank(ids: pa.Array) -> np.ndarray:
    """Each id's position in lexicographic order (UTF-8 byte order is code-point order)."""
    order = pc.sort_indices(ids).to_numpy()
    sorted_ids = ids.take(order)
    if len(ids) > 1:
        repeated = pc.equal(sorted_ids[1:], sorted_ids[:-1])
        if pc.any(repeated).as_py():
            dup = sorted_ids[1:].filter(repeated)
            raise ValueError(f"ids must be unique; repeated: {dup[:10].to_pylist()}")
    rank = np.empty(len(ids), np.int64)
    rank[order] = np.arange(len(ids))
    return rank
