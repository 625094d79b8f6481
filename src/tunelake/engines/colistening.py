"""Artist-artist similarity from co-listening: who plays A also plays B.

The plays make a users x artists matrix of play counts (scipy CSR). Raw counts would let a
few heavy listeners and the most popular artists decide everything, so each count is
weighted with BM25 (users are the documents, artists the terms):

    w(u, a) = c · (K1 + 1) / (c + K1 · (1 - B + B · len(u) / avg_len)) · idf(a)
    idf(a)  = log(1 + (N - df(a) + 0.5) / (df(a) + 0.5))          (Lucene's, never negative)

with c the user's plays of the artist, len(u) the user's plays in all, N the users and df(a)
the artist's listeners: a count saturates (the 500th play of an artist says little more than
the 5th), long histories weigh less per artist, and an artist everybody plays links little.
Each artist's column is then L2-normalised, so that the similarity of two artists is the
cosine of their columns: S = Xᵀ X, in [0, 1], 0 when no user played both.

S is computed in blocks of artists (bounded by the work of each block's sparse product, so
memory stays bounded for any size) and each row's top k is ranked exactly: higher score
first, equal float64 scores by artist id (the same rule as `tunelake.engines.similarity`),
the artist itself never, artists without a common listener never (a row may have fewer
than k). A row's candidates are cut to the k best by a partition (`np.argpartition`) on the
row's scores before the final sort.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines.similarity import Ids, check_k, id_array, id_rank

K1 = 1.2
"""BM25's saturation: how fast repeated plays of an artist stop adding weight."""
B = 0.75
"""BM25's length normalisation: how much a long listening history divides each weight."""
#: Entries (sum over a block's artists of their listeners' artist counts) one block's
#: product may produce at most: bounds the memory of S's block (~16 bytes an entry).
_BLOCK_WORK = 1 << 23


@dataclass(frozen=True)
class UserArtists:
    """Play counts: `counts[u, a]` is user `user_ids[u]`'s plays of artist `artist_ids[a]`.

    Both id arrays are sorted and unique, so the same plays give the same matrix."""

    user_ids: pa.Array
    artist_ids: pa.Array
    counts: sp.csr_matrix

    @classmethod
    def from_pairs(cls, user_ids: Ids, artist_ids: Ids, counts: object = None) -> UserArtists:
        """From parallel columns (one row per play, or per user-artist pair with `counts`;
        repeated pairs add up). Ids are strings; counts positive numbers."""
        users = id_array(user_ids, len(user_ids))
        artists = id_array(artist_ids, len(users))
        if counts is None:
            values = np.ones(len(users), np.float64)
        else:
            values = np.asarray(counts, np.float64)
            if values.shape != (len(users),):
                raise ValueError(f"got {values.size} counts for {len(users)} user-artist pairs")
            if not np.isfinite(values).all() or (values <= 0).any():
                raise ValueError("counts must be positive finite numbers")
        user_dict, user_index = _encode(users)
        artist_dict, artist_index = _encode(artists)
        matrix = sp.csr_matrix(
            (values, (user_index, artist_index)), shape=(len(user_dict), len(artist_dict))
        )
        matrix.sum_duplicates()
        return cls(user_dict, artist_dict, matrix)

    @classmethod
    def from_plays(cls, plays: pa.Table) -> UserArtists:
        """From rows of `plays` (columns user_id and artist_id): one play each."""
        pairs = plays.group_by(["user_id", "artist_id"]).aggregate([([], "count_all")])
        return cls.from_pairs(pairs["user_id"], pairs["artist_id"], pairs["count_all"])

    @property
    def listeners(self) -> np.ndarray:
        """Per artist: how many users played it."""
        return np.diff(self.counts.tocsc().indptr)


@dataclass(frozen=True)
class ScoredNeighbours:
    """Row i's neighbours: positions (`index`, -1 past the last) and cosine scores (0 there),
    best first."""

    index: np.ndarray
    """int64, N x k."""
    score: np.ndarray
    """float64, N x k."""

    def to_table(self, ids: Ids) -> pa.Table:
        """`RELATED_ARTISTS` rows (distance = 1 - score), in input order, rank 1..found."""
        names = id_array(ids, len(self.index))
        rows, cols = np.nonzero(self.index >= 0)
        return pa.Table.from_arrays(
            [
                names.take(rows),
                names.take(self.index[rows, cols]),
                pa.array((cols + 1).astype(np.int16)),
                pa.array(1.0 - self.score[rows, cols]),
            ],
            schema=RELATED_ARTISTS.schema,
        )


def bm25(counts: sp.csr_matrix, k1: float = K1, b: float = B) -> sp.csr_matrix:
    """The BM25 weights of a users x artists count matrix (see the module's note)."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    n_users = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    idf = np.log1p((n_users - df + 0.5) / (df + 0.5))
    length = np.asarray(counts.sum(axis=1)).ravel()
    mean_length = length.mean() if n_users else 1.0
    norm = (1.0 - b) + b * length / (mean_length or 1.0)
    row_norm = np.repeat(norm, np.diff(counts.indptr))
    c = counts.data
    weighted = counts.copy()
    weighted.data = c * (k1 + 1.0) / (c + k1 * row_norm) * idf[counts.indices]
    return weighted


def normalised_columns(weights: sp.csr_matrix) -> sp.csc_matrix:
    """The columns scaled to unit L2 norm (an all-zero column stays zero), as CSC."""
    columns = sp.csc_matrix(weights, dtype=np.float64)
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    columns.data *= np.repeat(scale, np.diff(columns.indptr))
    return columns


def top_k(plays: UserArtists, k: int = 10) -> ScoredNeighbours:
    """Every artist's exact top k by co-listening cosine (see the module's note)."""
    k = check_k(k)
    columns = normalised_columns(bm25(plays.counts))
    return top_k_cosine(columns, id_rank(plays.artist_ids), k)


def top_k_cosine(columns: sp.csc_matrix, ranks: np.ndarray, k: int) -> ScoredNeighbours:
    """The exact top k of S = Xᵀ X for unit columns X (users x artists), in artist blocks."""
    n = columns.shape[1]
    index = np.full((n, k), -1, np.int64)
    score = np.zeros((n, k), np.float64)
    artists_by_user = columns.T.tocsr()  # artists x users
    users = sp.csr_matrix(columns)  # users x artists
    for start, stop in _blocks(artists_by_user, users):
        product = (artists_by_user[start:stop] @ users).tocsr()
        _rank_rows(product, start, ranks, index[start:stop], score[start:stop])
    return ScoredNeighbours(index, score)


def _blocks(artists_by_user: sp.csr_matrix, users: sp.csr_matrix) -> Iterator[tuple[int, int]]:
    """Consecutive artist ranges whose product work stays under _BLOCK_WORK (one at least)."""
    degree = np.diff(users.indptr).astype(np.float64)
    pattern = artists_by_user.copy()
    pattern.data = np.ones_like(pattern.data)
    work = np.cumsum(pattern @ degree)
    start = 0
    n = artists_by_user.shape[0]
    while start < n:
        base = work[start - 1] if start else 0.0
        stop = int(np.searchsorted(work, base + _BLOCK_WORK, side="right"))
        stop = min(n, max(stop, start + 1))
        yield start, stop
        start = stop


def _rank_rows(
    product: sp.csr_matrix, first: int, ranks: np.ndarray, index: np.ndarray, score: np.ndarray
) -> None:
    """Fill `index`/`score` (the block's rows) with each row's top k of `product`."""
    k = index.shape[1]
    lengths = np.diff(product.indptr)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = product.indices.astype(np.int64)
    data = product.data
    keep = (cols != rows + first) & (data > 0)
    rows, cols, data = rows[keep], cols[keep], data[keep]
    rows, cols, data = _partition_rows(rows, cols, data, ranks, k)
    order = np.lexsort((ranks[cols], -data, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    starts = np.searchsorted(rows, np.arange(len(index)))
    position = np.arange(len(rows)) - starts[rows]
    top = position < k
    index[rows[top], position[top]] = cols[top]
    score[rows[top], position[top]] = data[top]


def _partition_rows(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, ranks: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the entries that cannot be in their row's top k, so the sort stays small: in a
    row with more than k entries, those scoring below the row's k-th best (found by
    `np.argpartition`) go; ties with the k-th stay, for the id rule to decide."""
    if not len(rows):
        return rows, cols, data
    counts = np.bincount(rows)
    long_rows = np.flatnonzero(counts > k)
    if not len(long_rows):
        return rows, cols, data
    starts = np.concatenate(([0], np.cumsum(counts)))
    threshold = np.full(len(counts), -np.inf)
    for r in long_rows:  # entries arrive grouped by row (CSR order)
        segment = data[starts[r] : starts[r + 1]]
        threshold[r] = segment[np.argpartition(-segment, k - 1)[k - 1]]
    keep = data >= threshold[rows]
    return rows[keep], cols[keep], data[keep]


def related_artists(plays: UserArtists, k: int = 10) -> pa.Table:
    """`RELATED_ARTISTS` rows from co-listening (distance = 1 - cosine)."""
    return top_k(plays, k).to_table(plays.artist_ids)


def _encode(ids: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The sorted distinct ids and each input's position among them."""
    distinct = pc.unique(ids)
    distinct = distinct.take(pc.sort_indices(distinct))
    position = pc.index_in(ids, value_set=distinct).to_numpy(zero_copy_only=False)
    return distinct, position.astype(np.int64)
