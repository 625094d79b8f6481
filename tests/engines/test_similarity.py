"""The in-process engine against a plain-Python brute force, exact to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelake.datasets import RELATED_ARTISTS
from tunelake.engines import similarity
from tunelake.engines.similarity import related_artists, top_k
from tunelake.engines.vectors import vector_matrix


def distance(u: np.ndarray, v: np.ndarray) -> float:
    total = 0.0
    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        total += (a - b) * (a - b)
    return math.sqrt(total)


def brute_force_top_k(
    ids: list[str], vectors: np.ndarray, k: int
) -> tuple[list[list[int]], list[list[float]]]:
    """Every pair, sorted by (distance, id): the definition of the answer."""
    index, dist = [], []
    for i, u in enumerate(vectors):
        ranked = sorted((distance(u, v), ids[j], j) for j, v in enumerate(vectors) if j != i)[:k]
        index.append([j for _, _, j in ranked])
        dist.append([d for d, _, _ in ranked])
    return index, dist


def assert_exact(ids: list[str], vectors: np.ndarray, k: int) -> None:
    got = top_k(ids, vectors, k)
    want_index, want_dist = brute_force_top_k(ids, np.asarray(vectors, np.float64), k)
    width = min(k, len(ids) - 1) if ids else 0
    assert got.index.shape == got.distance.shape == (len(ids), width)
    assert got.index.tolist() == want_index
    assert got.distance.tolist() == want_dist


def shuffled_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Ids whose order differs from the row order, so index ties would be caught."""
    return [f"artist-{v:06d}" for v in rng.permutation(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 11, 12, 57, 300])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_random_vectors_equal_brute_force(n: int, k: int) -> None:
    rng = np.random.default_rng(n * 100 + k)
    assert_exact(shuffled_ids(rng, n), rng.random((n, 8)), k)


def test_k_at_least_n_gives_all_others() -> None:
    rng = np.random.default_rng(1)
    got = top_k(["a", "b", "c", "d"], rng.random((4, 3)), k=10)
    assert got.index.shape == (4, 3)
    for row, neighbours in enumerate(got.index.tolist()):
        assert sorted(neighbours) == sorted(set(range(4)) - {row})


def test_one_and_zero_vectors() -> None:
    one = top_k(["a"], np.zeros((1, 8)), k=10)
    assert one.index.shape == (1, 0)
    assert one.to_table(["a"]).num_rows == 0
    empty = top_k([], np.zeros((0, 8)), k=10)
    assert empty.index.shape == (0, 0)
    # no vectors at all: an empty artist_vectors table gives a matrix without columns
    assert top_k([], np.empty((0, 0)), k=10).index.shape == (0, 0)


def test_duplicate_vectors_are_neighbours_and_self_is_not() -> None:
    rng = np.random.default_rng(2)
    base = rng.random((40, 4))
    vectors = np.concatenate([base, base, base[:10]])
    ids = shuffled_ids(rng, len(vectors))
    assert_exact(ids, vectors, 5)
    got = top_k(ids, vectors, 5)
    assert not (got.index == np.arange(len(vectors))[:, None]).any()
    assert (got.distance[:, :2] == 0).any(axis=1).all()


def test_identical_vectors_rank_by_id() -> None:
    ids = ["d", "b", "a", "e", "c"]
    got = top_k(ids, np.ones((5, 3)), k=2)
    names = [[ids[j] for j in row] for row in got.index.tolist()]
    assert names == [["a", "b"], ["a", "c"], ["b", "c"], ["a", "b"], ["a", "b"]]


def test_tie_at_the_boundary_goes_to_the_smaller_id() -> None:
    # From the origin, "z" (row 1) and "m" (row 2) are both at distance 1; only one fits.
    vectors = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    got = top_k(["o", "z", "m", "far"], vectors, k=1)
    assert got.index[0].tolist() == [2]
    assert got.distance[0].tolist() == [1.0]


@pytest.mark.parametrize(("n", "d", "levels"), [(300, 3, 3), (200, 2, 4), (150, 8, 2)])
def test_integer_grid_with_many_ties(n: int, d: int, levels: int) -> None:
    rng = np.random.default_rng(n + d)
    assert_exact(shuffled_ids(rng, n), rng.integers(0, levels, (n, d)), 10)


def test_decimal_grid_ties_are_bitwise() -> None:
    # Multiples of 0.1 are inexact in binary: a tie is a tie only if the bits agree.
    rng = np.random.default_rng(3)
    vectors = rng.integers(0, 5, (250, 4)) * 0.1
    assert_exact(shuffled_ids(rng, 250), vectors, 7)


def test_widening_across_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similarity, "_BATCH_CANDIDATES", 50)
    rng = np.random.default_rng(4)
    assert_exact(shuffled_ids(rng, 120), rng.integers(0, 2, (120, 3)), 6)


@settings(max_examples=60, deadline=None)
@given(
    grid=st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=1, max_size=40),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_property_equals_brute_force(grid: list[list[int]], k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert_exact(shuffled_ids(rng, len(grid)), np.array(grid), k)


def test_threads_give_the_single_thread_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks, so that several threads each answer many of them.
    monkeypatch.setattr(similarity, "_BATCH_CANDIDATES", 200)
    rng = np.random.default_rng(11)
    vectors, ids = rng.integers(0, 4, (400, 3)) * 0.25, shuffled_ids(rng, 400)
    one = top_k(ids, vectors, 8, workers=1)
    for workers in (-1, 2, 5):
        many = top_k(ids, vectors, 8, workers=workers)
        assert np.array_equal(many.index, one.index)
        assert np.array_equal(many.distance, one.distance)
    assert one.index.tolist() == brute_force_top_k(ids, vectors, 8)[0]
    with pytest.raises(ValueError, match="workers"):
        top_k(ids, vectors, 8, workers=0)


def test_to_table_schema_and_ranks() -> None:
    rng = np.random.default_rng(5)
    ids = shuffled_ids(rng, 30)
    table = top_k(ids, rng.random((30, 8)), k=4).to_table(ids)
    assert table.schema == RELATED_ARTISTS.schema
    assert table.num_rows == 30 * 4
    assert table.column("artist_id").to_pylist() == [i for i in ids for _ in range(4)]
    assert table.column("rank").to_pylist() == [1, 2, 3, 4] * 30
    rows = table.to_pylist()
    assert all(r["artist_id"] != r["related_artist_id"] for r in rows)
    distances = np.array(table.column("distance").to_pylist()).reshape(30, 4)
    assert (np.diff(distances, axis=1) >= 0).all()


def test_related_artists_from_a_vectors_table() -> None:
    vectors = pa.table(
        {
            "artist_id": ["x", "y", "z"],
            "vector": [[0.0, 0.0], [0.0, 0.5], [1.0, 1.0]],
        }
    )
    table = related_artists(vectors, k=1)
    assert table.to_pylist() == [
        {"artist_id": "x", "related_artist_id": "y", "rank": 1, "distance": 0.5},
        {"artist_id": "y", "related_artist_id": "x", "rank": 1, "distance": 0.5},
        {
            "artist_id": "z",
            "related_artist_id": "y",
            "rank": 1,
            "distance": math.sqrt(1.25),
        },
    ]
    assert vector_matrix(vectors).shape == (3, 2)


@pytest.mark.parametrize(
    ("ids", "vectors", "k", "message"),
    [
        (["a", "b"], np.zeros((2, 2)), 0, "k must be a positive integer"),
        (["a", "b"], np.zeros((2, 2)), 2.5, "k must be a positive integer"),
        (["a"], np.zeros((2, 2)), 1, "got 1 ids for 2 vectors"),
        (["a", "a"], np.zeros((2, 2)), 1, "ids must be unique; repeated: \\['a'\\]"),
        (["a", None], np.zeros((2, 2)), 1, "null"),
        ([1, 2], np.zeros((2, 2)), 1, "ids must be strings"),
        (["a", "b"], np.zeros(2), 1, "2-D"),
        (
            ["a", "b"],
            np.array([[0.0, np.nan], [1.0, 1.0]]),
            1,
            "NaN or infinite values in rows \\[0\\]",
        ),
        (["a", "b"], np.array([["x"], ["y"]]), 1, "numeric"),
    ],
)
def test_bad_input_is_refused_clearly(
    ids: list, vectors: np.ndarray, k: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        top_k(ids, vectors, k)  # type: ignore[arg-type]
