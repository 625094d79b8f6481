"""Artist vectors against a plain-Python computation of the same definition."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from tunelake.datasets import artist_vectors as artist_vectors_dataset
from tunelake.engines.vectors import (
    NoVectors,
    artist_vectors,
    artists_without_vector,
    check_vectors,
    vector_loss,
    vector_matrix,
)

FEATURES = ("danceability", "energy", "tempo")


def top_tracks(pairs: list[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "artist_id": pa.array([a for a, _ in pairs], pa.string()),
            "track_id": pa.array([t for _, t in pairs], pa.string()),
            "rank": pa.array([i % 10 + 1 for i in range(len(pairs))], pa.int16()),
        }
    )


def audio_features(rows: dict[str, dict[str, float | None]]) -> pa.Table:
    columns = {"track_id": pa.array(list(rows), pa.string())}
    for f in FEATURES:
        columns[f] = pa.array([r.get(f) for r in rows.values()], pa.float64())
    columns["source"] = pa.array(["spotify"] * len(rows), pa.string())
    return pa.table(columns)


def reference(
    pairs: list[tuple[str, str]], rows: dict[str, dict[str, float | None]]
) -> dict[str, tuple[int, list[float], list[float]]]:
    """artist -> (n_tracks, means, normalised vector), computed the long way."""
    per_artist: dict[str, list[list[float | None]]] = {}
    for artist, track in pairs:
        if track not in rows:
            continue
        values = [rows[track].get(f) for f in FEATURES]
        values = [None if v is None or math.isnan(v) else v for v in values]
        if all(v is None for v in values):
            continue
        per_artist.setdefault(artist, []).append(values)
    means: dict[str, tuple[int, list[float]]] = {}
    for artist, tracks in per_artist.items():
        m = []
        for j in range(len(FEATURES)):
            present = [t[j] for t in tracks if t[j] is not None]
            m.append(sum(present) / len(present) if present else None)
        if None not in m:
            means[artist] = (len(tracks), m)
    lows = [min(m[j] for _, m in means.values()) for j in range(len(FEATURES))]
    highs = [max(m[j] for _, m in means.values()) for j in range(len(FEATURES))]
    return {
        artist: (
            n,
            m,
            [
                0.0 if highs[j] == lows[j] else (m[j] - lows[j]) / (highs[j] - lows[j])
                for j in range(len(FEATURES))
            ],
        )
        for artist, (n, m) in means.items()
    }


PAIRS = [
    ("a1", "t1"),
    ("a1", "t2"),
    ("a1", "t3"),
    ("a2", "t4"),
    ("a2", "t5"),
    ("a3", "t6"),  # t6 has no audio features: a3 gets no vector
    ("a4", "t7"),  # t7 has features, but all null/NaN: same
    ("a5", "t1"),  # tracks can be shared
    ("a5", "t8"),
    ("a6", "t9"),  # tempo missing on a6's only track: no complete vector
]
ROWS: dict[str, dict[str, float | None]] = {
    "t1": {"danceability": 0.5, "energy": 0.9, "tempo": 120.0},
    "t2": {"danceability": 0.7, "energy": None, "tempo": 100.0},
    "t3": {"danceability": float("nan"), "energy": 0.1, "tempo": 140.0},
    "t4": {"danceability": 0.2, "energy": 0.4, "tempo": 90.0},
    "t5": {"danceability": 0.3, "energy": 0.6, "tempo": 95.5},
    "t7": {"danceability": None, "energy": float("nan"), "tempo": None},
    "t8": {"danceability": 0.9, "energy": 0.2, "tempo": 180.0},
    "t9": {"danceability": 0.4, "energy": 0.4, "tempo": None},
    "unused": {"danceability": 0.0, "energy": 0.0, "tempo": 0.0},
}


def test_means_and_normalisation_equal_the_reference() -> None:
    table = artist_vectors(top_tracks(PAIRS), audio_features(ROWS), FEATURES)
    want = reference(PAIRS, ROWS)
    assert table.schema == artist_vectors_dataset(FEATURES).schema
    assert table.column("artist_id").to_pylist() == sorted(want) == ["a1", "a2", "a5"]
    for row in table.to_pylist():
        n, means, vector = want[row["artist_id"]]
        assert row["n_tracks"] == n
        assert [row[f] for f in FEATURES] == pytest.approx(means, rel=1e-12)
        assert row["vector"] == pytest.approx(vector, rel=1e-12, abs=1e-12)


def test_left_out_artists_are_named() -> None:
    pairs = top_tracks(PAIRS)
    table = artist_vectors(pairs, audio_features(ROWS), FEATURES)
    missing = artists_without_vector(pairs.column("artist_id"), table)
    assert missing.to_pylist() == ["a3", "a4", "a6"]
    assert artists_without_vector(["a1", "zz", "zz"], table).to_pylist() == ["zz"]


def test_a_feature_without_spread_becomes_zero() -> None:
    rows = {
        "t1": {"danceability": 0.2, "energy": 0.5, "tempo": 100.0},
        "t2": {"danceability": 0.8, "energy": 0.5, "tempo": 120.0},
        "t3": {"danceability": 0.4, "energy": 0.5, "tempo": 110.0},
    }
    table = artist_vectors(
        top_tracks([("a", "t1"), ("b", "t2"), ("c", "t3")]), audio_features(rows), FEATURES
    )
    assert vector_matrix(table).tolist() == [
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 1.0],
        [pytest.approx(1 / 3), 0.0, 0.5],
    ]


def test_a_single_artist_gets_the_zero_vector() -> None:
    table = artist_vectors(top_tracks([("a", "t1")]), audio_features(ROWS), FEATURES)
    assert table.column("vector").to_pylist() == [[0.0, 0.0, 0.0]]


def test_integer_features_and_default_features() -> None:
    features = pa.table(
        {
            "track_id": ["t1", "t2"],
            "key": pa.array([2, 7], pa.int16()),
            "mode": pa.array([1, 0], pa.int16()),
        }
    )
    table = artist_vectors(
        top_tracks([("a", "t1"), ("a", "t2"), ("b", "t1")]), features, ["key", "mode"]
    )
    assert table.column("key").to_pylist() == [4.5, 2.0]
    assert vector_matrix(table).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="lacks columns"):
        artist_vectors(top_tracks([("a", "t1")]), features)


def test_no_rows_gives_an_empty_table_with_the_schema() -> None:
    table = artist_vectors(top_tracks([]), audio_features({}), FEATURES)
    assert table.num_rows == 0
    assert table.schema == artist_vectors_dataset(FEATURES).schema
    assert vector_matrix(table).shape == (0, 0)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (["danceability", "colour"], "unknown audio features \\['colour'\\]"),
        (["source"], "unknown audio features \\['source'\\]"),
        ([], "at least one"),
        ("energy", "sequence of names"),
        (["energy", "energy"], "repeated"),
        (["liveness"], "audio_features table lacks columns \\['liveness'\\]"),
    ],
)
def test_bad_features_are_refused_clearly(features: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        artist_vectors(top_tracks(PAIRS), audio_features(ROWS), features)


def test_repeated_tracks_in_audio_features_are_refused() -> None:
    features = audio_features(ROWS)
    with pytest.raises(ValueError, match="repeated track_id"):
        artist_vectors(top_tracks(PAIRS), pa.concat_tables([features, features]), FEATURES)


def test_vector_matrix_refuses_ragged_vectors() -> None:
    table = pa.table({"artist_id": ["a", "b"], "vector": [[0.0, 1.0], [0.5]]})
    with pytest.raises(ValueError, match="different lengths"):
        vector_matrix(table)


def test_many_artists_without_a_python_loop_per_row() -> None:
    rng = np.random.default_rng(0)
    n_tracks = 50_000
    pairs = [(f"a{i % 5000:05d}", f"t{i:06d}") for i in range(n_tracks)]
    values = rng.random((n_tracks, len(FEATURES)))
    features = pa.table(
        {"track_id": [t for _, t in pairs], **{f: values[:, j] for j, f in enumerate(FEATURES)}}
    )
    table = artist_vectors(top_tracks(pairs), features, FEATURES)
    matrix = vector_matrix(table)
    assert table.num_rows == 5000
    assert matrix.min(axis=0).tolist() == [0.0] * 3
    assert matrix.max(axis=0).tolist() == [1.0] * 3
    expected_means = values.reshape(10, 5000, 3).mean(axis=0)
    assert np.allclose(np.column_stack([table.column(f) for f in FEATURES]), expected_means)


def test_vector_loss_names_the_features_each_lost_artist_lacks() -> None:
    top = pa.table({"artist_id": ["a", "b", "c"], "track_id": ["t1", "t2", "t3"]})
    features = pa.table(
        {
            "track_id": ["t1", "t2", "t3"],
            "energy": [0.1, None, float("nan")],
            "valence": [0.5, 0.4, None],
        }
    )
    vectors = artist_vectors(top, features, ("energy", "valence"))
    loss = vector_loss(top, features, vectors, ("energy", "valence"))
    assert (loss.artists, loss.without_vector) == (3, 2)
    assert loss.lacking == {"energy": 2, "valence": 1}
    assert loss.summary().startswith(
        "2 of 3 artists have no vector: their top tracks have no value of energy (2 artists), "
        "valence (1 artist)"
    )
    with pytest.raises(NoVectors, match="no artist got a vector"):
        check_vectors(top.slice(1), features, vectors.filter(pa.array([False])), ("energy",))
