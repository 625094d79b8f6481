"""The hybrid similarity: listening where people listen, audio and genres where they don't.

For artist a and a candidate b:

    hybrid(a, b) = t * listening(a, b) + (1 - t) * (audio(a, b) + genres(a, b)) / 2
    t            = 0.5 * min(1, listeners(a) / 20)

- listening: the co-listening cosine (`tunelake.engines.colistening`), 0 outside a's list;
- audio: 1 - d / sqrt(D), d the Euclidean distance of the min-max normalised vectors (D
  features, so d <= sqrt(D)); 0 when either artist has no vector;
- genres: the Jaccard index of the two artists' genre sets (0 when either has none).

Cold start: an artist with few listeners (t -> 0) is ranked by audio + genres alone; from 20
listeners on listening weighs half. Candidates are the union of a's top CANDIDATES by
listening and by audio; the top k of them by hybrid score is kept (ties by id).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunelake.engines import similarity
from tunelake.engines.colistening import ScoredNeighbours

CANDIDATES = 50
"""Neighbours taken from each of listening and audio before the hybrid ranking."""
FULL_TRUST_LISTENERS = 20
"""Listeners from which listening gets its full weight (LISTENING_WEIGHT)."""
LISTENING_WEIGHT = 0.5


def listening_trust(listeners: np.ndarray) -> np.ndarray:
    """t per artist: see the module's note."""
    return LISTENING_WEIGHT * np.minimum(
        1.0, np.asarray(listeners, np.float64) / FULL_TRUST_LISTENERS
    )


def audio_neighbours(
    ids: Sequence[str] | np.ndarray, vectors: np.ndarray, k: int = CANDIDATES
) -> ScoredNeighbours:
    """Exact audio top k (Euclidean) as scores 1 - d / sqrt(D), over the artists whose
    vector row is finite; the others get no neighbours and are nobody's."""
    n = len(vectors)
    has = np.isfinite(vectors).all(axis=1) if n else np.zeros(0, bool)
    rows = np.flatnonzero(has)
    index = np.full((n, k), -1, np.int64)
    score = np.zeros((n, k), np.float64)
    if len(rows) > 1:
        found = similarity.top_k(np.asarray(ids, object)[rows].tolist(), vectors[rows], k)
        width = found.index.shape[1]
        index[rows, :width] = rows[found.index]
        score[rows, :width] = 1.0 - found.distance / np.sqrt(vectors.shape[1])
    return ScoredNeighbours(index, score)


def genre_jaccard(genres: Sequence[frozenset[str]], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard index of the genre sets of artists a[i] and b[i]."""
    out = np.zeros(len(a), np.float64)
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        union = len(genres[x] | genres[y])
        if union:
            out[i] = len(genres[x] & genres[y]) / union
    return out


def hybrid_neighbours(
    ids: Sequence[str] | np.ndarray,
    listening: ScoredNeighbours,
    listeners: np.ndarray,
    vectors: np.ndarray | None,
    genres: Sequence[frozenset[str]] | None,
    k: int = 10,
) -> ScoredNeighbours:
    """Every artist's top k by the hybrid score (see the module's note); `listening` should
    hold CANDIDATES neighbours per artist, `vectors` rows of NaN for artists without one."""
    n = len(listening.index)
    rank = similarity.id_rank(similarity.id_array(ids, n))
    audio = (
        audio_neighbours(ids, vectors, CANDIDATES)
        if vectors is not None
        else ScoredNeighbours(np.full((n, 0), -1, np.int64), np.zeros((n, 0)))
    )
    # candidate pairs (row, col): the union of both lists
    rows = np.concatenate(
        [
            np.repeat(np.arange(n), listening.index.shape[1]),
            np.repeat(np.arange(n), audio.index.shape[1]),
        ]
    )
    cols = np.concatenate([listening.index.ravel(), audio.index.ravel()])
    valid = cols >= 0
    pairs = np.unique(np.stack([rows[valid], cols[valid]], axis=1), axis=0)
    a, b = pairs[:, 0], pairs[:, 1]
    listen = _lookup(listening, a, b)
    sound = np.zeros(len(a))
    if vectors is not None:
        d = np.sqrt(((vectors[a] - vectors[b]) ** 2).sum(axis=1))
        sound = np.nan_to_num(1.0 - d / np.sqrt(vectors.shape[1]), nan=0.0)
    genre = genre_jaccard(genres, a, b) if genres is not None else np.zeros(len(a))
    t = listening_trust(listeners)[a]
    score = t * listen + (1.0 - t) * (sound + genre) / 2.0
    order = np.lexsort((rank[b], -score, a))
    a, b, score = a[order], b[order], score[order]
    position = np.arange(len(a)) - np.searchsorted(a, np.arange(n))[a]
    top = (position < k) & (score > 0)
    index = np.full((n, k), -1, np.int64)
    out = np.zeros((n, k))
    index[a[top], position[top]] = b[top]
    out[a[top], position[top]] = score[top]
    return ScoredNeighbours(index, out)


def _lookup(neighbours: ScoredNeighbours, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """neighbours' score of pair (a[i], b[i]), 0 when b is not in a's list."""
    hit = neighbours.index[a] == b[:, None]
    return (neighbours.score[a] * hit).sum(axis=1)
