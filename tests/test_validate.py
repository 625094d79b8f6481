"""Validation contracts: each rule rejects what it should, with its reason, and passes the rest."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pytest

from tests.fixtures import SPOTIFY
from tunelake.datasets import ARTISTS, AUDIO_FEATURES, TOP_TRACKS, TRACKS
from tunelake.models import Artist
from tunelake.validate import (
    CONTRACTS,
    REJECTED,
    SOURCE_ROW,
    UNIT_FEATURES,
    TooManyRejects,
    Validated,
    check_reject_fraction,
    contract,
    validate,
)

FIXTURES = SPOTIFY
TRACK = "1zHlj4dQ8ZAtrayhuDDmkY"


def sid(i: int) -> str:
    """A well-formed (22-character base62) id."""
    return f"{i:022d}"


def base(dataset: str, i: int) -> dict[str, Any]:
    """A minimal valid row of dataset, distinct in its key for each i."""
    return {
        "artists": {"artist_id": sid(i), "name": f"artist {i}"},
        "tracks": {"track_id": sid(i), "name": f"track {i}", "artist_id": sid(0)},
        "top_tracks": {"artist_id": sid(0), "track_id": sid(i), "rank": i + 1},
        "audio_features": {"track_id": sid(i), "source": "spotify"},
    }[dataset]


def rows_with(dataset: str, column: str, values: list[Any]) -> list[dict[str, Any]]:
    return [base(dataset, i) | {column: v} for i, v in enumerate(values)]


def reasons(result: Validated) -> list[list[str]]:
    return [r.split("; ") for r in result.rejected["reason"].to_pylist()]


RANGES = [
    *(("audio_features", f, [0, 0.5, 1], [-0.01, 1.01, math.nan]) for f in UNIT_FEATURES),
    ("audio_features", "loudness", [-60, -5.2, 5], [-60.1, 5.1]),
    ("audio_features", "tempo", [0.1, 120, 299.9], [0, -1, 300]),
    ("audio_features", "key", [-1, 0, 11], [-2, 12]),
    ("audio_features", "mode", [0, 1], [-1, 2]),
    ("audio_features", "time_signature", [0, 4, 7], [-1, 8]),
    ("audio_features", "duration_ms", [1, 200_000], [0, -5]),
    ("tracks", "duration_ms", [1, 200_000], [0, -1]),
    ("tracks", "popularity", [0, 100], [-1, 101]),
    ("artists", "popularity", [0, 55, 100], [-1, 101]),
    ("artists", "followers", [0, 10**9], [-1]),
    ("top_tracks", "rank", [1, 10], [0, -3]),
]


@pytest.mark.parametrize(("dataset", "column", "good", "bad"), RANGES)
def test_range_rule(dataset: str, column: str, good: list[float], bad: list[float]) -> None:
    result = validate(dataset, rows_with(dataset, column, [*good, *bad]))
    assert result.valid[column].to_pylist() == good
    rejected = result.rejected[column].to_pylist()
    assert len(rejected) == len(bad)
    assert all(
        r == b or (math.isnan(r) and math.isnan(b)) for r, b in zip(rejected, bad, strict=True)
    )
    assert all(len(r) == 1 and r[0].startswith(f"{column} must be ") for r in reasons(result))


def test_range_reason_names_the_interval() -> None:
    result = validate("audio_features", rows_with("audio_features", "tempo", [0]))
    assert reasons(result) == [["tempo must be in (0, 300)"]]
    result = validate("top_tracks", rows_with("top_tracks", "rank", [0]))
    assert reasons(result) == [["rank must be >= 1"]]


REQUIRED = [
    (d.name, f.name)
    for d in (ARTISTS, TRACKS, TOP_TRACKS, AUDIO_FEATURES)
    for f in d.schema
    if not f.nullable
]


@pytest.mark.parametrize(("dataset", "column"), REQUIRED)
def test_required_rejects_null(dataset: str, column: str) -> None:
    rows = [base(dataset, 0), base(dataset, 1) | {column: None}, base(dataset, 2)]
    rows[2].pop(column)  # a key missing from one record is a null, not a missing column
    result = validate(dataset, rows)
    assert result.counts == {"in": 3, "out": 1, "quarantined": 2}
    assert reasons(result) == [[f"{column} is required"]] * 2


@pytest.mark.parametrize(("dataset", "column"), [(d, c) for d, c in REQUIRED if c != "rank"])
def test_required_rejects_blank_strings(dataset: str, column: str) -> None:
    result = validate(dataset, rows_with(dataset, column, ["", "   "]))
    assert result.valid.num_rows == 0
    assert all(f"{column} is required" in r for r in reasons(result))


ID_COLUMNS = [
    ("artists", "artist_id"),
    ("tracks", "track_id"),
    ("tracks", "artist_id"),
    ("tracks", "album_id"),
    ("top_tracks", "artist_id"),
    ("top_tracks", "track_id"),
    ("audio_features", "track_id"),
]
BAD_IDS = ["abc", TRACK + "1", TRACK[:-1] + "-", f"spotify:track:{TRACK}"]


@pytest.mark.parametrize(("dataset", "column"), ID_COLUMNS)
def test_id_format(dataset: str, column: str) -> None:
    result = validate(dataset, rows_with(dataset, column, [TRACK, *BAD_IDS]))
    assert result.valid[column].to_pylist() == [TRACK]
    assert result.rejected[column].to_pylist() == BAD_IDS
    expected = f"{column} is not a valid id (expected [0-9A-Za-z]{{22}})"
    assert reasons(result) == [[expected]] * len(BAD_IDS)


def test_id_pattern_is_configurable_per_contract() -> None:
    rows = rows_with("artists", "artist_id", ["12345", TRACK])
    numeric = validate(contract("artists", id_pattern=r"\d+"), rows)
    assert numeric.valid["artist_id"].to_pylist() == ["12345"]
    assert numeric.rejected["artist_id"].to_pylist() == [TRACK]
    assert validate(contract("artists", id_pattern=None), rows).counts["out"] == 2
    assert validate("artists", rows).valid["artist_id"].to_pylist() == [TRACK]


def test_bad_id_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="invalid id pattern"):
        contract("artists", id_pattern="[a-")


def test_references_of_top_tracks() -> None:
    artist, track = sid(1), sid(2)
    rows = [
        {"artist_id": artist, "track_id": track, "rank": 1},
        {"artist_id": sid(9), "track_id": track, "rank": 1},
        {"artist_id": artist, "track_id": sid(9), "rank": 2},
        {"artist_id": sid(8), "track_id": sid(8), "rank": 1},
    ]
    known = {"artist_id": {artist}, "track_id": pa.array([track])}
    result = validate("top_tracks", rows, references=known)
    assert result.valid.to_pylist() == [rows[0]]
    assert reasons(result) == [
        ["unknown artist_id (not among the known artists)"],
        ["unknown track_id (not among the known tracks)"],
        [
            "unknown artist_id (not among the known artists)",
            "unknown track_id (not among the known tracks)",
        ],
    ]


@pytest.mark.parametrize(
    ("dataset", "column", "among"),
    [("tracks", "artist_id", "artists"), ("audio_features", "track_id", "tracks")],
)
def test_references(dataset: str, column: str, among: str) -> None:
    rows = rows_with(dataset, column, [sid(1), sid(2)])
    result = validate(dataset, rows, references={column: pa.chunked_array([[sid(1)]])})
    assert result.valid[column].to_pylist() == [sid(1)]
    assert reasons(result) == [[f"unknown {column} (not among the known {among})"]]
    # without the known set the reference rule is not applied
    assert validate(dataset, rows).counts["out"] == 2


def test_references_the_contract_does_not_check_are_an_error() -> None:
    with pytest.raises(ValueError, match="artists has no reference rule for artist_id"):
        validate("artists", [base("artists", 0)], references={"artist_id": {sid(0)}})
    with pytest.raises(ValueError, match="can be given for: artist_id, track_id"):
        validate("top_tracks", [], references={"tracks": {sid(0)}})


def test_every_failing_reason_is_joined_in_rule_order() -> None:
    rows = [{"track_id": "bad", "danceability": 2, "energy": -1, "source": "spotify"}]
    result = validate("audio_features", rows, references={"track_id": {TRACK}})
    assert reasons(result) == [
        [
            "track_id is not a valid id (expected [0-9A-Za-z]{22})",
            "danceability must be in [0, 1]",
            "energy must be in [0, 1]",
            "unknown track_id (not among the known tracks)",
        ]
    ]


def test_duplicates_keep_the_first() -> None:
    rows = [base("audio_features", 0) | {"danceability": d} for d in (0.1, 0.2, 0.3)]
    rows.append(base("audio_features", 1))
    result = validate("audio_features", rows)
    assert result.valid["danceability"].to_pylist() == [0.1, None]
    assert result.rejected["danceability"].to_pylist() == [0.2, 0.3]
    assert reasons(result) == [["duplicate key"]] * 2


def test_duplicates_keep_the_first_valid_row() -> None:
    rows = [base("audio_features", 0) | {"danceability": d} for d in (2.0, 0.2, 0.3)]
    result = validate("audio_features", rows)
    assert result.valid["danceability"].to_pylist() == [0.2]
    assert reasons(result) == [["danceability must be in [0, 1]"], ["duplicate key"]]


def test_duplicates_use_the_whole_key() -> None:
    rows = [
        {"artist_id": sid(1), "track_id": sid(1), "rank": 1},
        {"artist_id": sid(1), "track_id": sid(2), "rank": 2},
        {"artist_id": sid(2), "track_id": sid(1), "rank": 1},
        {"artist_id": sid(1), "track_id": sid(3), "rank": 1},
    ]
    result = validate("top_tracks", rows)
    assert result.valid.to_pylist() == rows[:3]
    assert result.rejected.select(["track_id", "reason"]).to_pylist() == [
        {"track_id": sid(3), "reason": "duplicate key"}
    ]


def test_values_that_cannot_be_cast_are_rejected_once() -> None:
    rows = [
        base("audio_features", 0) | {"danceability": "0.5", "key": "7"},
        base("audio_features", 1) | {"danceability": "abc"},
        base("audio_features", 2) | {"key": 1.5},
        base("audio_features", 3) | {"key": 40_000},
        base("audio_features", 4) | {"mode": [1]},
    ]
    result = validate("audio_features", rows)
    assert result.valid.select(["danceability", "key"]).to_pylist() == [
        {"danceability": 0.5, "key": 7}
    ]
    assert result.rejected["track_id"].to_pylist() == [sid(1), sid(2), sid(3), sid(4)]
    assert reasons(result) == [
        ["danceability cannot be read as double"],
        ["key cannot be read as int16"],
        ["key cannot be read as int16"],
        ["mode cannot be read as int16"],
    ]


@pytest.mark.parametrize(
    ("dataset", "column", "good", "bad", "type_name"),
    [
        ("artists", "popularity", 42, 2**40, "int32"),
        ("artists", "genres", None, "rock", "list<item: string>"),
        ("tracks", "explicit", "true", "maybe", "bool"),
        ("tracks", "duration_ms", 1e5, 1.5e5 + 0.5, "int64"),
    ],
)
def test_cast_failures(dataset: str, column: str, good: Any, bad: Any, type_name: str) -> None:
    result = validate(dataset, rows_with(dataset, column, [good, bad]))
    assert result.counts == {"in": 2, "out": 1, "quarantined": 1}
    assert reasons(result) == [[f"{column} cannot be read as {type_name}"]]


def test_table_input_keeps_rejected_values_as_given() -> None:
    table = pa.table(
        {
            "track_id": [sid(0), sid(1), sid(2)],
            "danceability": ["0.25", " 1e-1 ", "loud"],
            "source": ["spotify"] * 3,
            "extra": [1, 2, 3],
        }
    )
    result = validate("audio_features", table)
    assert result.valid.schema == AUDIO_FEATURES.schema
    assert result.valid["danceability"].to_pylist() == [0.25, 0.1]
    assert result.rejected.to_pylist() == [
        {
            "track_id": sid(2),
            "danceability": "loud",
            "source": "spotify",
            "reason": "danceability cannot be read as double",
        }
    ]


def test_missing_required_column_rejects_every_row() -> None:
    table = pa.table({"track_id": [sid(0), sid(1)], "danceability": [0.1, 0.2]})
    result = validate("audio_features", table)
    assert result.counts == {"in": 2, "out": 0, "quarantined": 2}
    assert result.rejected["track_id"].to_pylist() == [sid(0), sid(1)]
    assert reasons(result) == [["missing column source"]] * 2


def test_missing_columns_in_records() -> None:
    result = validate("artists", [{"id": sid(0), "title": "x"}] * 2)
    assert reasons(result) == [["missing column artist_id", "missing column name"]] * 2
    # optional columns may be absent: the 2026 API has no popularity or genres
    assert validate("artists", [base("artists", 0)]).valid["popularity"].to_pylist() == [None]


def test_records_from_models() -> None:
    artists = [
        Artist(artist_id=sid(1), name="Blur", genres=("britpop", "rock"), popularity=70),
        Artist(artist_id=sid(2), name="Oasis", followers=-1),
    ]
    result = validate("artists", [a.model_dump() for a in artists])
    assert result.valid.schema == ARTISTS.schema
    assert result.valid.to_pylist() == [
        {
            "artist_id": sid(1),
            "name": "Blur",
            "genres": ["britpop", "rock"],
            "popularity": 70,
            "followers": None,
            "image_url": None,
        }
    ]
    assert result.rejected.select(["name", "reason"]).to_pylist() == [
        {"name": "Oasis", "reason": "followers must be >= 0"}
    ]


def test_empty_input() -> None:
    result = validate("tracks", [])
    assert result.counts == {"in": 0, "out": 0, "quarantined": 0}
    assert result.valid.schema == TRACKS.schema


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"no contract for dataset 'albums'; contracts: artists"):
        validate("albums", [])
    with pytest.raises(TypeError, match="list of dicts"):
        validate("artists", [("x", "y")])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of dicts"):
        validate("artists", "artist_id,name")  # type: ignore[arg-type]


def test_contracts_cover_the_ingested_datasets() -> None:
    assert set(CONTRACTS) == {
        "artists",
        "tracks",
        "top_tracks",
        "audio_features",
        "related_artists",
    }
    assert all(CONTRACTS[name].dataset.name == name for name in CONTRACTS)


def _half_bad(dataset: str) -> Validated:
    return validate(dataset, rows_with(dataset, "name", ["ok", "", "fine", None]))


def test_check_reject_fraction_raises_with_a_clear_message() -> None:
    good = validate("artists", [base("artists", 0)])
    results = {"artists": _half_bad("artists"), "tracks": _half_bad("tracks"), "top": good}
    with pytest.raises(TooManyRejects) as info:
        check_reject_fraction(results, 0.25)
    message = str(info.value)
    # one line: entry points print a user error's first line only
    assert "\n" not in message
    assert "more than the 25.0% allowed" in message
    assert (
        "artists rejected 2 of 4 rows (50.0%; most common reason: name is required (2 rows))"
        in message
    )
    assert "tracks rejected 2 of 4 rows" in message
    assert "TUNELAKE_MAX_REJECT_FRACTION" in message
    assert "top" not in message
    assert info.value.rejects == {"artists": (2, 4), "tracks": (2, 4)}


def test_check_reject_fraction_allows_up_to_the_limit() -> None:
    assert check_reject_fraction({"artists": _half_bad("artists")}, 0.5) is None
    assert check_reject_fraction({"tracks": validate("tracks", [])}, 0.0) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_reject_fraction({}, 1.5)


@pytest.mark.parametrize("name", ["audio_features_several.json", "audio_features_several_2.json"])
def test_recorded_spotify_audio_features_pass(name: str) -> None:
    payload = json.loads((FIXTURES / name).read_text())
    rows = [
        {**{k: v for k, v in f.items() if k != "id"}, "track_id": f["id"], "source": "spotify"}
        for f in payload["audio_features"]
        if f is not None
    ]
    result = validate("audio_features", rows)
    assert result.rejected.num_rows == 0, result.rejected.to_pylist()
    assert result.valid["track_id"].to_pylist() == [r["track_id"] for r in rows]


def test_a_row_the_source_rejected_is_quarantined_with_its_reason_and_row() -> None:
    rows = [
        base("tracks", 1) | {SOURCE_ROW: 1},
        base("tracks", 2) | {SOURCE_ROW: 2, REJECTED: "listed twice"},
        base("tracks", 3) | {SOURCE_ROW: 3, "popularity": "high"},
    ]
    result = validate("tracks", rows)
    assert result.valid["track_id"].to_pylist() == [sid(1)]
    assert SOURCE_ROW not in result.valid.column_names
    rejected = result.rejected.to_pylist()
    assert [(r[SOURCE_ROW], r["reason"]) for r in rejected] == [
        (2, "listed twice"),
        (3, "popularity cannot be read as int32"),
    ]
    assert REJECTED not in result.rejected.column_names
