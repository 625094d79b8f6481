"""Recommendations for a listener from artist neighbour lists (item-based).

An artist b the user has not played scores

    score(u, b) = sum over the user's artists a of weight(u, a) * sim(a, b)

where sim(a, b) is b's similarity in a's neighbour list (0 when b is not in it) and
weight(u, a) = log(1 + plays of a): a favourite counts more, but not in proportion to its
plays. Artists no neighbour list reaches (a new user, a user of obscure artists) come after
the scored ones, most listened first (the popularity fallback); remaining ties go by id.

Any similarity works: co-listening (`tunelake.engines.colistening`), audio, the hybrid, or
the lists the serving store holds (`ItemNeighbours.from_neighbour_lists`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from tunelake.engines.similarity import check_k, id_array

#: Users scored together: bounds the dense users x artists block.
_USER_CHUNK = 256


@dataclass(frozen=True)
class ItemNeighbours:
    """Row a of `matrix` holds artist a's neighbours and their similarity (> 0)."""

    artist_ids: pa.Array
    matrix: sp.csr_matrix

    @classmethod
    def from_index(
        cls, artist_ids: pa.Array, index: np.ndarray, score: np.ndarray
    ) -> ItemNeighbours:
        """From N x k positions (-1 past the last) and their similarities."""
        n = len(index)
        rows, cols = np.nonzero((index >= 0) & (score > 0))
        matrix = sp.csr_matrix(
            (score[rows, cols], (rows, index[rows, cols])), shape=(n, n), dtype=np.float64
        )
        return cls(artist_ids, matrix)

    @classmethod
    def from_neighbour_lists(
        cls, lists: Mapping[str, Sequence[tuple[str, float]]]
    ) -> ItemNeighbours:
        """From artist -> [(neighbour, similarity), ...], e.g. read from serving documents."""
        ids = sorted({a for a in lists} | {b for near in lists.values() for b, _ in near})
        position = {a: i for i, a in enumerate(ids)}
        rows, cols, values = [], [], []
        for a, near in lists.items():
            for b, similarity in near:
                if similarity > 0 and b != a:
                    rows.append(position[a])
                    cols.append(position[b])
                    values.append(float(similarity))
        matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(ids), len(ids)))
        return cls(pa.array(ids, pa.string()), matrix)


def user_weights(counts: sp.csr_matrix) -> sp.csr_matrix:
    """weight(u, a) = log(1 + plays): see the module's note."""
    weights = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    weights.data = np.log1p(weights.data)
    return weights


def recommend_indices(
    counts: sp.csr_matrix, neighbours: sp.csr_matrix, popularity: np.ndarray, k: int = 10
) -> np.ndarray:
    """Per user (row of `counts`, users x artists plays), the k best unplayed artists as
    positions (-1 when fewer exist), best first."""
    k = check_k(k)
    weights = user_weights(counts)
    n_users = weights.shape[0]
    out = np.full((n_users, k), -1, np.int64)
    # popularity in [0, 1) below any score of 1 + s: scored artists always come first
    fallback = popularity.astype(np.float64) / (float(popularity.max(initial=0)) + 1.0)
    for start in range(0, n_users, _USER_CHUNK):
        block = weights[start : start + _USER_CHUNK]
        scores = (block @ neighbours).toarray()
        key = np.where(scores > 0, 1.0 + scores, fallback[None, :])
        seen_rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        key[seen_rows, block.indices] = -np.inf
        out[start : start + block.shape[0]] = _top(key, k)
    return out


def _top(key: np.ndarray, k: int) -> np.ndarray:
    """Each row's k largest keys (ties: lower position first; -inf never), -1 padded."""
    n, m = key.shape
    width = min(k, m)
    part = (
        np.argpartition(-key, width - 1, axis=1)[:, :width]
        if width < m
        else np.tile(np.arange(m), (n, 1))
    )
    values = np.take_along_axis(key, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(values, order, axis=1))] = -1
    out = np.full((n, k), -1, np.int64)
    out[:, :width] = top
    return out


@dataclass(frozen=True)
class Recommendation:
    artist_id: str
    score: float
    """0 for a popularity fallback."""
    because: tuple[str, ...]
    """The user's artists whose neighbour lists hold it, most similar first (at most 3)."""


def recommend(
    history: Mapping[str, float],
    neighbours: ItemNeighbours,
    popularity: Mapping[str, int] | None = None,
    k: int = 10,
) -> list[Recommendation]:
    """One user's k best unplayed artists from their plays per artist (`history`)."""
    k = check_k(k)
    ids = id_array(neighbours.artist_ids, neighbours.matrix.shape[0]).to_pylist()
    position = {a: i for i, a in enumerate(ids)}
    played = [(position[a], n) for a, n in history.items() if a in position and n > 0]
    counts = sp.csr_matrix(
        ([n for _, n in played], ([0] * len(played), [i for i, _ in played])),
        shape=(1, len(ids)),
    )
    pop = np.array([(popularity or {}).get(a, 0) for a in ids], np.float64)
    seen = set(history)
    top = [int(i) for i in recommend_indices(counts, neighbours.matrix, pop, k + len(seen))[0]]
    scores = (user_weights(counts) @ neighbours.matrix).toarray()[0]
    out = []
    for i in top:
        if i < 0 or ids[i] in seen:
            continue
        column = neighbours.matrix[:, i].toarray().ravel()
        near = sorted((p for p, _ in played if column[p] > 0), key=lambda p: (-column[p], ids[p]))
        out.append(Recommendation(ids[i], float(scores[i]), tuple(ids[p] for p in near[:3])))
    return out[:k]
