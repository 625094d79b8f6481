"""The rules every run keeps on a dump: references hold, every input row is accounted for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.pipeline.conftest import DT
from tests.pipeline.test_dump_source import _dump_rows, _write_csv
from tunelake.engines.vectors import NoVectors
from tunelake.errors import InputError
from tunelake.ids import derived_artist_id
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.names import MAX_QUERY_LENGTH
from tunelake.observability import StepFailed
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import StageOptions, check_dt, run_pipeline
from tunelake.report import rows_accounted
from tunelake.validate import FEATURE_COLUMNS, REFERENCES, contract, validate_datasets

CURATED = ("artists", "tracks", "top_tracks", "audio_features")


def test_rows_of_a_quarantined_artist_are_quarantined_with_its_reason(make_settings, tmp_path):
    rows = _dump_rows()
    for row in rows:
        if row["artist_ids"] in ("art001", "art002"):
            row["artists"] = ""  # nameless: the artist is quarantined
    dump = _write_csv(tmp_path / "tracks.csv", rows)
    settings = make_settings(source=f"file:{dump}", max_reject_fraction=0.5)

    assert run_pipeline(settings, dt=DT).ok

    with open_resources(settings) as res:
        curated = {name: res.lake.read_partition(name, DT) for name in CURATED}
        artists = set(curated["artists"]["artist_id"].to_pylist())
        tracks = set(curated["tracks"]["track_id"].to_pylist())
        assert artists and "art001" not in artists
        assert set(curated["tracks"]["artist_id"].to_pylist()) <= artists
        assert set(curated["top_tracks"]["artist_id"].to_pylist()) <= artists
        assert set(curated["audio_features"]["track_id"].to_pylist()) <= tracks
        assert set(res.warehouse.read("tracks")["artist_id"].to_pylist()) <= artists
        rejected = res.lake.read_quarantine("tracks", DT).to_pylist()
        assert sorted(r["track_id"] for r in rejected) == [
            f"trk{a:03d}{t}" for a in (1, 2) for t in range(4)
        ]
        assert {r["reason"] for r in rejected} == {"artist quarantined: name is required"}
        # a feature row of such a track says why, through its track
        features = res.lake.read_quarantine("audio_features", DT).to_pylist()
        assert {r["reason"] for r in features} == {
            "track quarantined: artist quarantined: name is required"
        }


def test_one_table_of_references_for_validation_and_checks():
    from tunelake.orchestration import checks

    assert checks.REFERENCES is REFERENCES
    assert {(r.column, r.parent) for r in REFERENCES["tracks"]} == {("artist_id", "artists")}
    assert {(r.column, r.parent) for r in REFERENCES["related_artists"]} == {
        ("artist_id", "artists"),
        ("related_artist_id", "artists"),
    }


def test_a_child_of_a_missing_parent_is_unknown_not_quarantined_parent():
    results = validate_datasets(
        {
            "artists": [{"artist_id": "a1", "name": "A"}, {"artist_id": "a2", "name": " "}],
            "tracks": [
                {"track_id": "t1", "name": "x", "artist_id": "a1"},
                {"track_id": "t2", "name": "y", "artist_id": "a2"},
                {"track_id": "t3", "name": "z", "artist_id": "a9"},
            ],
        },
        lambda name: contract(name, id_pattern=None),
    )
    assert results["tracks"].valid["track_id"].to_pylist() == ["t1"]
    assert results["tracks"].rejected["reason"].to_pylist() == [
        "artist quarantined: name is required",
        "unknown artist_id (not among the known artists)",
    ]


def test_every_input_row_is_accounted_for_in_the_record_and_the_report(make_settings, tmp_path):
    rows = _dump_rows()
    for feature in FEATURE_COLUMNS:
        if feature in rows[5]:
            rows[5][feature] = ""  # a track whose audio features are all empty
    dump = _write_csv(tmp_path / "tracks.csv", rows)
    settings = make_settings(source=f"file:{dump}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        rejected = res.lake.read_quarantine("audio_features", DT).to_pylist()
        assert [r["track_id"] for r in rejected] == [rows[5]["id"]]
        assert rejected[0]["reason"].startswith("no usable audio feature (all of danceability")
        assert res.lake.read_partition("tracks", DT).num_rows == 48  # the track itself stands
    stored = json.loads((settings.runs_dir / f"{result.record.run_id}.json").read_text())
    validate = next(s for s in stored["steps"] if s["step"] == "validate")
    assert validate["details"]["audio_features"] == {"in": 48, "out": 47, "quarantined": 1}
    for counts in validate["details"].values():
        assert counts["in"] == counts["out"] + counts["quarantined"]
    assert rows_accounted(result.record)["tracks"] == {"in": 48, "curated": 48, "quarantined": 0}
    assert result.report is not None
    html = result.report.read_text(encoding="utf-8")
    table = html.split('<table id="accounted">', 1)[1].split("</table>", 1)[0]
    assert "audio_features" in table and ">47<" in table and ">1<" in table


def test_a_dump_without_two_vector_features_fails_the_transform_saying_why(make_settings, tmp_path):
    rows = [
        {k: v for k, v in row.items() if k not in ("loudness", "speechiness")}
        for row in _dump_rows()
    ]
    settings = make_settings(source=f"file:{_write_csv(tmp_path / 'tracks.csv', rows)}")

    with pytest.raises(StepFailed) as failure:
        run_pipeline(settings, dt=DT)

    assert failure.value.step == "transform"
    assert isinstance(failure.value.cause, NoVectors)
    message = str(failure.value.cause)
    assert "no artist got a vector (12 have top tracks)" in message
    assert "loudness (12 artists), speechiness (12 artists)" in message
    assert "TUNELAKE_VECTOR_FEATURES" in message
    with open_resources(settings) as res:
        assert res.lake.read_partition("related_artists", DT) is None


def test_a_run_that_loses_some_vectors_says_how_many_and_why(make_settings, tmp_path):
    rows = _dump_rows()
    for row in rows:
        if row["artist_ids"] in ("art003", "art007"):
            row["tempo"] = ""  # these two artists have no tempo on any track
    settings = make_settings(source=f"file:{_write_csv(tmp_path / 'tracks.csv', rows)}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    expected = "2 of 12 artists have no vector: their top tracks have no value of tempo (2 artists)"
    assert len(result.record.warnings) == 1
    assert result.record.warnings[0].startswith(expected)
    stored = json.loads((settings.runs_dir / f"{result.record.run_id}.json").read_text())
    transform = next(s for s in stored["steps"] if s["step"] == "transform")
    assert transform["details"]["without_vector"] == 2
    assert transform["details"]["warning"].startswith(expected)


def test_huge_names_and_unclean_ids_are_quarantined_with_reasons(make_settings, tmp_path):
    rows = _dump_rows()
    for row in rows:
        if row["artist_ids"] == "art001":
            row["artists"] = "x" * (1 << 20)  # a 1 MB name
        if row["artist_ids"] == "art002":
            row["artist_ids"] = "art002\x00"
    rows[0]["id"] = f"  {rows[0]['id']} "  # surrounding spaces are stripped (README)
    dump = _write_csv(tmp_path / "tracks.csv", rows)
    settings = make_settings(source=f"file:{dump}", max_reject_fraction=0.5)

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        reasons = {
            r["artist_id"]: r["reason"] for r in res.lake.read_quarantine("artists", DT).to_pylist()
        }
        tracks = set(res.lake.read_partition("tracks", DT)["track_id"].to_pylist())
        names = res.warehouse.read("artists")["name"].to_pylist()
    assert reasons == {
        "art001": "name is longer than 512 characters",
        "art002\x00": "artist_id holds a control character or surrounding whitespace",
    }
    assert "trk0000" in tracks
    assert max(len(n) for n in names) < 512


SONGS_HEADER = [
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_name",
    "playlist_genre",
    *DEFAULT_VECTOR_FEATURES,
    "duration_ms",
]


def test_a_spotify_songs_dump_without_artist_ids_runs_on_derived_ids(make_settings, tmp_path):
    rows = []
    for row in _dump_rows():
        values = {
            "track_id": row["id"],
            "track_name": row["name"],
            "track_artist": row["artists"],
            "track_popularity": row["popularity"],
            "track_album_name": "Album",
            "playlist_genre": row["track_genre"],
            **{f: row[f] for f in DEFAULT_VECTOR_FEATURES},
            "duration_ms": 200000,
        }
        rows.append({k: values[k] for k in SONGS_HEADER})
    settings = make_settings(source=f"file:{_write_csv(tmp_path / 'spotify_songs.csv', rows)}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        artists = {a["name"]: a["artist_id"] for a in res.warehouse.read("artists").to_pylist()}
        related = res.warehouse.read("related_artists")
        recorded = read_progress(res.lake, DT).source
    assert len(artists) == 12
    assert artists["Artist 3"] == derived_artist_id("Artist 3")
    assert related.num_rows == 12 * 10
    assert recorded is not None and recorded.derived == ("artist_id",)


def test_a_dt_past_tomorrow_utc_is_refused_naming_today():
    today = datetime.now(UTC).date()
    check_dt(today + timedelta(days=1), "dt")  # already today east of UTC
    with pytest.raises(InputError) as info:
        check_dt(today + timedelta(days=2), "dt")
    assert str(info.value) == (
        f"dt {today + timedelta(days=2)} is in the future (today is {today}, UTC): give a "
        f"date up to {today + timedelta(days=1)}"
    )


@pytest.mark.parametrize("query", ["", " \t", "y" * (MAX_QUERY_LENGTH + 1)])
def test_a_run_of_a_blank_or_huge_artist_is_refused_before_it_starts(query):
    with pytest.raises(InputError, match=r"^an artist to run is "):
        StageOptions(queries=["Björk", query])
