"""Co-listening similarity: BM25 weights by hand, exact top k against a dense brute force."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from tunelake.engines import colistening
from tunelake.engines.colistening import UserArtists, bm25, normalised_columns, top_k


def _pairs(rows: list[tuple[str, str, float]]) -> UserArtists:
    users, artists, counts = zip(*rows, strict=True)
    return UserArtists.from_pairs(list(users), list(artists), list(counts))


def test_bm25_weight_by_hand() -> None:
    plays = _pairs([("u1", "a", 1), ("u1", "b", 1), ("u2", "a", 1), ("u2", "b", 1), ("u3", "c", 1)])
    weights = bm25(plays.counts).toarray()
    # N = 3 users, df(a) = 2, len(u1) = 2, mean length 5/3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / (5 / 3))) * idf
    assert weights[0, 0] == pytest.approx(expected, rel=1e-12)
    assert weights[2, 0] == 0


def test_heavy_counts_saturate() -> None:
    plays = _pairs([("u1", "a", 1), ("u2", "a", 1000), ("u1", "b", 1), ("u2", "b", 1)])
    weights = bm25(plays.counts).toarray()
    # a thousand plays weigh less than K1 + 1 times one play
    assert weights[1, 0] < (colistening.K1 + 1) * weights[0, 0]


def test_identical_columns_are_neighbours_and_strangers_are_none() -> None:
    plays = _pairs([("u1", "a", 1), ("u1", "b", 3), ("u2", "a", 2), ("u2", "b", 2), ("u3", "c", 5)])
    found = top_k(plays, k=5)
    ids = plays.artist_ids.to_pylist()
    assert ids == ["a", "b", "c"]
    assert found.index[0].tolist() == [1, -1, -1, -1, -1]
    assert 0 < found.score[0, 0] <= 1
    assert found.index[2].tolist() == [-1] * 5  # c shares no listener
    table = found.to_table(plays.artist_ids)
    assert table.schema == colistening.RELATED_ARTISTS.schema
    assert table.column("artist_id").to_pylist() == ["a", "b"]
    assert table.column("related_artist_id").to_pylist() == ["b", "a"]


def test_ties_are_broken_by_id() -> None:
    # x is played with each of z, y, w exactly alike: equal scores, so id order decides
    rows = [("u1", "x", 1), ("u1", "z", 1), ("u2", "x", 1), ("u2", "y", 1)]
    rows += [("u3", "x", 1), ("u3", "w", 1)]
    plays = _pairs(rows)
    found = top_k(plays, k=2)
    ids = plays.artist_ids.to_pylist()
    x = ids.index("x")
    assert [ids[i] for i in found.index[x]] == ["w", "y"]


def test_play_rows_count_as_plays() -> None:
    table = pa.table({"user_id": ["u1", "u1", "u2"], "artist_id": ["a", "a", "b"]})
    plays = UserArtists.from_plays(table)
    assert plays.counts.toarray().tolist() == [[2.0, 0.0], [0.0, 1.0]]
    assert plays.listeners.tolist() == [1, 1]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        UserArtists.from_pairs(["u"], ["a"], [0])
    with pytest.raises(ValueError, match="counts"):
        UserArtists.from_pairs(["u", "v"], ["a", "b"], [1])


@pytest.mark.parametrize("block_work", [1, 1 << 23])
def test_exact_against_dense_brute_force(monkeypatch: pytest.MonkeyPatch, block_work: int) -> None:
    monkeypatch.setattr(colistening, "_BLOCK_WORK", block_work)
    rng = np.random.default_rng(7)
    n_users, n_artists, k = 120, 60, 7
    pairs = {(int(u), int(a)) for u, a in rng.integers(0, [n_users, n_artists], (900, 2))}
    users = [f"u{u:03d}" for u, _ in pairs]
    artists = [f"a{a:03d}" for _, a in pairs]
    counts = rng.lognormal(2, 1.5, len(pairs))
    plays = UserArtists.from_pairs(users, artists, counts)
    found = top_k(plays, k=k)

    dense = normalised_columns(bm25(plays.counts)).toarray()
    sim = dense.T @ dense
    np.fill_diagonal(sim, -1)
    for row in range(sim.shape[0]):
        order = sorted(
            (c for c in range(sim.shape[1]) if sim[row, c] > 1e-15),
            key=lambda c, row=row: (-sim[row, c], c),
        )[:k]
        got = [int(c) for c in found.index[row] if c >= 0]
        assert got == order
        np.testing.assert_allclose(found.score[row, : len(got)], sim[row, order], rtol=1e-12)
