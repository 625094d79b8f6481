"""Item-based recommendations, the hybrid similarity, the offline evaluation, the HetRec reader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tunelake.engines import hybrid
from tunelake.engines.colistening import ScoredNeighbours, UserArtists, top_k
from tunelake.engines.evaluate import evaluate, genre_precision, ranking_metrics, split
from tunelake.engines.recommend import ItemNeighbours, recommend, recommend_indices
from tunelake.sources.user_artists import UserArtistsError, read_user_artists

LISTS = {
    "a": [("b", 0.9), ("c", 0.2)],
    "d": [("c", 0.5), ("e", 0.4)],
}


def test_scores_sum_weight_times_similarity() -> None:
    near = ItemNeighbours.from_neighbour_lists(LISTS)
    got = recommend({"a": 1, "d": math.e - 1}, near, k=3)
    # b: log(2)*0.9 = 0.62; c: log(2)*0.2 + 1*0.5 = 0.64; e: 1*0.4
    assert [r.artist_id for r in got] == ["c", "b", "e"]
    assert got[0].score == pytest.approx(math.log(2) * 0.2 + 0.5)
    assert got[0].because == ("d", "a")


def test_played_artists_are_never_recommended_and_popularity_fills_up() -> None:
    near = ItemNeighbours.from_neighbour_lists(LISTS)
    got = recommend({"a": 3, "c": 1}, near, popularity={"e": 5, "d": 9}, k=4)
    assert [r.artist_id for r in got] == ["b", "d", "e"]
    assert got[1].score == 0  # fallback


def test_unknown_user_history_gets_the_most_popular() -> None:
    near = ItemNeighbours.from_neighbour_lists(LISTS)
    got = recommend({"zz": 4}, near, popularity={"e": 5, "d": 9, "a": 1}, k=2)
    assert [r.artist_id for r in got] == ["d", "e"]


def test_recommend_indices_ties_by_position() -> None:
    counts = UserArtists.from_pairs(["u", "v"], ["a", "b"]).counts
    zero = counts.T @ counts * 0
    top = recommend_indices(counts, zero, np.array([1, 1]), k=3)
    assert top.tolist() == [[1, -1, -1], [0, -1, -1]]


def test_split_is_seeded_and_holds_out_a_share() -> None:
    rng = np.random.default_rng(1)
    users = [f"u{u}" for u in range(30) for _ in range(10)]
    artists = [f"a{a}" for _ in range(30) for a in rng.permutation(40)[:10]]
    plays = UserArtists.from_pairs(users, artists)
    one, two, other = (
        split(plays.counts, 0.2, 5),
        split(plays.counts, 0.2, 5),
        split(plays.counts, 0.2, 6),
    )
    assert (one.test != two.test).nnz == 0
    assert (one.test != other.test).nnz > 0
    assert np.diff(one.test.indptr).tolist() == [2] * 30
    assert one.train.nnz + one.test.nnz == plays.counts.nnz
    assert one.train.multiply(one.test).nnz == 0


def test_split_keeps_single_artist_users_out() -> None:
    plays = UserArtists.from_pairs(["u", "v", "v"], ["a", "a", "b"])
    data = split(plays.counts, 0.5, 0)
    assert data.users.tolist() == [1]


def test_metrics_by_hand() -> None:
    test = UserArtists.from_pairs(["u", "u"], ["a", "c"]).counts  # u holds out a (0) and c (1)
    top = np.array([[1, 5, 0]])
    recall, ndcg = ranking_metrics(top, test)
    assert recall == 1.0
    assert ndcg == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_genre_precision() -> None:
    near = ScoredNeighbours(np.array([[1, 2], [0, -1], [-1, -1]]), np.ones((3, 2)))
    genres = [frozenset({"rock"}), frozenset({"rock", "pop"}), frozenset({"jazz"})]
    assert genre_precision(near, genres, 2) == pytest.approx(2 / 3)


def test_hybrid_cold_start_uses_audio_and_genres() -> None:
    ids = ["a", "b", "c"]
    listening = ScoredNeighbours(np.array([[2], [-1], [0]]), np.array([[1.0], [0.0], [1.0]]))
    vectors = np.array([[0.0, 0.0], [0.0, 0.1], [1.0, 1.0]])
    genres = [frozenset({"x"}), frozenset({"x"}), frozenset()]
    cold = hybrid.hybrid_neighbours(ids, listening, np.array([0, 0, 0]), vectors, genres, k=2)
    # audio + genres only: b is near and shares x; c (opposite corner, no genre) scores 0
    assert cold.index[0].tolist() == [1, -1]
    warm = hybrid.hybrid_neighbours(ids, listening, np.array([40, 40, 40]), vectors, genres, k=2)
    # t = 0.5: c scores 0.5 * 1 + 0.5 * 0 / 2, b 0.5 * (1 - 0.1 / sqrt 2 + 1) / 2
    # with listeners, co-listening lifts c above b
    assert warm.index[0].tolist() == [2, 1]
    assert warm.score[0, 0] == pytest.approx(0.5)
    assert warm.score[0, 1] == pytest.approx(0.5 * (1 - 0.1 / math.sqrt(2) + 1) / 2)


def test_hybrid_without_vector_rows() -> None:
    vectors = np.array([[0.0], [np.nan], [0.5]])
    near = hybrid.audio_neighbours(["a", "b", "c"], vectors, 2)
    assert near.index.tolist() == [[2, -1], [-1, -1], [0, -1]]
    assert near.score[0, 0] == pytest.approx(0.5)


def _taste_plays(seed: int = 3) -> tuple[UserArtists, list[frozenset[str]], np.ndarray]:
    """Users who each like one of four genres of 15 artists: listening should find them."""
    rng = np.random.default_rng(seed)
    users, artists = [], []
    for u in range(200):
        liked = rng.integers(0, 4)
        for a in rng.choice(15, 6, replace=False):
            users.append(f"u{u:03d}")
            artists.append(f"g{liked}-{a:02d}")
        users.append(f"u{u:03d}")
        artists.append(f"g{rng.integers(0, 4)}-{rng.integers(0, 15):02d}")
    plays = UserArtists.from_pairs(users, artists, rng.integers(1, 50, len(users)))
    genres = [frozenset({a.split("-")[0]}) for a in plays.artist_ids.to_pylist()]
    vectors = rng.random((len(genres), 4))
    return plays, genres, vectors


def test_evaluate_listening_beats_popularity_and_is_deterministic() -> None:
    plays, genres, vectors = _taste_plays()
    first = evaluate(plays, seed=1, vectors=vectors, genres=genres)
    again = evaluate(plays, seed=1, vectors=vectors, genres=genres)
    by = {r.method: r for r in first.results}
    assert set(by) == {"popularity", "listening", "audio", "hybrid", "peer-als"}
    assert by["listening"].recall > 2 * by["popularity"].recall
    assert by["listening"].genre_precision > 0.9
    assert by["audio"].genre_precision < 0.5  # random vectors know nothing of genres
    assert by["hybrid"].uses_genres and not by["listening"].uses_genres
    assert [(r.method, r.recall, r.ndcg) for r in first.results] == [
        (r.method, r.recall, r.ndcg) for r in again.results
    ]


def test_listening_neighbours_of_taste_plays_share_genre() -> None:
    plays, genres, _ = _taste_plays()
    near = top_k(plays, 5)
    assert genre_precision(near, genres, 5) > 0.9


def test_read_user_artists(tmp_path: Path) -> None:
    good = tmp_path / "user_artists.dat"
    good.write_text("userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n")
    table = read_user_artists(good)
    assert table.to_pylist()[0] == {"user_id": "2", "artist_id": "51", "plays": 13883}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,c\n1,2,3\n", "header must name"),
        ("userID\tartistID\tweight\n1\tx\t3\n", "not a tab-separated"),
        ("userID\tartistID\tweight\n1\t2\t0\n", "must be positive"),
        ("userID\tartistID\tweight\n", "no user-artist rows"),
    ],
)
def test_bad_user_artists_file(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.dat"
    bad.write_text(text)
    with pytest.raises(UserArtistsError, match=message):
        read_user_artists(bad)


def test_missing_user_artists_file(tmp_path: Path) -> None:
    with pytest.raises(UserArtistsError, match=r"plays file .*nope\.dat does not exist"):
        read_user_artists(tmp_path / "nope.dat")
