"""Offline evaluation of the recommendation methods on user-artist play counts.

Split: every user with at least two artists has a share (`holdout`, 20% by default, at
least one, never all) of their artists held out, drawn with a seeded generator; the methods
learn from the rest. Each method then recommends k artists per user among those the user
has not played in training, and is scored on the held-out ones:

- recall@k = hits / number held out (averaged over users);
- NDCG@k = sum over hits of 1 / log2(1 + rank), over the same sum for a perfect list;
- genre precision@k: over the artists with genres, the share of their k nearest neighbours
  (the method's artist-artist lists) that share a genre with them. It is circular for a
  method that takes genres as input (the hybrid), which the results flag.

Methods: Popularity (most listeners in training), ItemBased over listening, audio or the
hybrid (`tunelake.engines.recommend`), and Peer, the `implicit` library's ALS (a dev
dependency; skipped when it is not installed). Everything is deterministic from the seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from tunelake.engines import colistening, hybrid
from tunelake.engines.colistening import ScoredNeighbours, UserArtists
from tunelake.engines.recommend import recommend_indices
from tunelake.engines.similarity import check_k

HOLDOUT = 0.2
NEIGHBOURS = 100
"""Neighbours per artist the item-based methods score with (on HetRec, recall@10 of
listening grows with them: 0.152 at 50, 0.159 at 100, 0.170 at 200)."""
ALS_FACTORS = 64
ALS_ITERATIONS = 15
ALS_REGULARIZATION = 0.05


@dataclass(frozen=True)
class Split:
    train: sp.csr_matrix
    """users x artists plays, without the held-out pairs."""
    test: sp.csr_matrix
    """users x artists, 1 on each held-out pair."""
    users: np.ndarray
    """The users evaluated (those with held-out artists)."""


@dataclass
class MethodResult:
    method: str
    recall: float
    ndcg: float
    genre_precision: float | None
    """None without genres or without artist lists (Popularity)."""
    uses_genres: bool
    build_seconds: float
    """Time to build the method's model (similarity lists, or ALS training)."""


@dataclass
class Evaluation:
    k: int
    holdout: float
    seed: int
    users: int
    artists: int
    pairs: int
    held_out: int
    results: list[MethodResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Method -> why it was not measured."""


def split(counts: sp.csr_matrix, holdout: float = HOLDOUT, seed: int = 0) -> Split:
    """Hold out round(holdout * n) of each user's n artists (at least 1, at most n - 1)."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be between 0 and 1 (exclusive), got {holdout}")
    counts = sp.csr_matrix(counts)
    counts.sort_indices()
    rng = np.random.default_rng(seed)
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(counts.shape[0]), lengths)
    draw = rng.random(len(rows))
    order = np.lexsort((draw, rows))
    position = np.empty(len(rows), np.int64)
    position[order] = np.arange(len(rows)) - np.repeat(counts.indptr[:-1], lengths)
    want = np.clip(np.rint(holdout * lengths), 1, np.maximum(lengths - 1, 0)).astype(np.int64)
    want[lengths < 2] = 0
    held = position < want[rows]
    test = sp.csr_matrix(
        (np.ones(int(held.sum())), (rows[held], counts.indices[held])), shape=counts.shape
    )
    train = sp.csr_matrix(
        (counts.data[~held], (rows[~held], counts.indices[~held])), shape=counts.shape
    )
    return Split(train, test, np.flatnonzero(want > 0))


def ranking_metrics(top: np.ndarray, test: sp.csr_matrix) -> tuple[float, float]:
    """Mean recall@k and NDCG@k of `top` (users x k positions, -1 padded) against `test`."""
    n, k = top.shape
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    recall = np.zeros(n)
    ndcg = np.zeros(n)
    for u in range(n):
        truth = test.indices[test.indptr[u] : test.indptr[u + 1]]
        hits = np.isin(top[u], truth) & (top[u] >= 0)
        recall[u] = hits.sum() / len(truth)
        ideal = discount[: min(k, len(truth))].sum()
        ndcg[u] = (discount * hits).sum() / ideal
    return float(recall.mean()), float(ndcg.mean())


def genre_precision(
    neighbours: ScoredNeighbours, genres: Sequence[frozenset[str]], k: int
) -> float:
    """Share of the top-k neighbour pairs (of artists with genres) that share a genre."""
    shared = total = 0
    for a, row in enumerate(neighbours.index[:, :k]):
        if not genres[a]:
            continue
        for b in row[row >= 0].tolist():
            total += 1
            shared += bool(genres[a] & genres[b])
    return shared / total if total else 0.0


def evaluate(
    plays: UserArtists,
    *,
    k: int = 10,
    holdout: float = HOLDOUT,
    seed: int = 0,
    vectors: np.ndarray | None = None,
    genres: Sequence[frozenset[str]] | None = None,
    peer: bool = True,
) -> Evaluation:
    """Every method on the same split (see the module's note). `vectors` (artists x D, NaN
    rows for artists without one) and `genres` are aligned with `plays.artist_ids`."""
    k = check_k(k)
    data = split(plays.counts, holdout, seed)
    train, test = data.train[data.users], data.test[data.users]
    listeners = np.diff(data.train.tocsc().indptr)
    result = Evaluation(
        k, holdout, seed, len(data.users), plays.counts.shape[1], plays.counts.nnz, test.nnz
    )
    ids = plays.artist_ids.to_pylist()

    def item_based(name: str, build: Callable[[], ScoredNeighbours], uses_genres: bool) -> None:
        started = time.perf_counter()
        near = build()
        seconds = time.perf_counter() - started
        matrix = _neighbour_matrix(near)
        top = recommend_indices(train, matrix, listeners, k)
        _record(result, name, top, test, near, genres, uses_genres, seconds)

    top = recommend_indices(
        train, sp.csr_matrix((plays.counts.shape[1], plays.counts.shape[1])), listeners, k
    )
    result.results.append(MethodResult("popularity", *ranking_metrics(top, test), None, False, 0.0))
    listening: list[ScoredNeighbours] = []

    def build_listening() -> ScoredNeighbours:
        listening.append(
            colistening.top_k(UserArtists(plays.user_ids, plays.artist_ids, data.train), NEIGHBOURS)
        )
        return listening[0]

    item_based("listening", build_listening, False)
    if vectors is not None:
        item_based("audio", lambda: hybrid.audio_neighbours(ids, vectors, NEIGHBOURS), False)
    else:
        result.skipped["audio"] = "no artist vectors"
    if vectors is not None or genres is not None:
        item_based(
            "hybrid",
            lambda: hybrid.hybrid_neighbours(
                ids, listening[0], listeners, vectors, genres, NEIGHBOURS
            ),
            genres is not None,
        )
    else:
        result.skipped["hybrid"] = "no artist vectors nor genres"
    if peer:
        _peer(result, data.train, data.users, test, genres, seed)
    return result


def _neighbour_matrix(near: ScoredNeighbours) -> sp.csr_matrix:
    n = len(near.index)
    rows, cols = np.nonzero(near.index >= 0)
    return sp.csr_matrix((near.score[rows, cols], (rows, near.index[rows, cols])), shape=(n, n))


def _record(
    result: Evaluation,
    name: str,
    top: np.ndarray,
    test: sp.csr_matrix,
    near: ScoredNeighbours | None,
    genres: Sequence[frozenset[str]] | None,
    uses_genres: bool,
    seconds: float,
) -> None:
    recall, ndcg = ranking_metrics(top, test)
    precision = genre_precision(near, genres, result.k) if near is not None and genres else None
    result.results.append(MethodResult(name, recall, ndcg, precision, uses_genres, seconds))


def _peer(
    result: Evaluation,
    train: sp.csr_matrix,
    users: np.ndarray,
    test: sp.csr_matrix,
    genres: Sequence[frozenset[str]] | None,
    seed: int,
) -> None:
    """implicit's ALS on BM25-weighted plays (its documented Last.fm setup), one BLAS thread."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import bm25_weight
        from threadpoolctl import threadpool_limits
    except ImportError:
        result.skipped["peer-als"] = "the implicit library is not installed (pip install implicit)"
        return
    weighted = sp.csr_matrix(bm25_weight(train, K1=100, B=0.8), dtype=np.float32)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=ALS_FACTORS,
            regularization=ALS_REGULARIZATION,
            iterations=ALS_ITERATIONS,
            random_state=seed,
        )
        started = time.perf_counter()
        model.fit(weighted, show_progress=False)
        seconds = time.perf_counter() - started
        ids, _ = model.recommend(
            users, weighted[users], N=result.k, filter_already_liked_items=True
        )
        near = None
        if genres:
            n = train.shape[1]
            found, scores = model.similar_items(np.arange(n), N=result.k + 1)
            own = found == np.arange(n)[:, None]
            index = np.where(own, -1, found)
            order = np.argsort(own, axis=1, kind="stable")  # self (if there) last
            index = np.take_along_axis(index, order, axis=1)[:, : result.k]
            score = np.take_along_axis(scores, order, axis=1)[:, : result.k]
            near = ScoredNeighbours(index.astype(np.int64), score.astype(np.float64))
    _record(result, "peer-als", np.asarray(ids, np.int64), test, near, genres, False, seconds)
