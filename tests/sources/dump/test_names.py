"""Dumps that name their columns otherwise, or give artist names but no artist ids."""

from __future__ import annotations

import pytest

from tunelake.ids import derived_artist_id
from tunelake.sources.dump import DumpError, parse_mapping
from tunelake.sources.dump.columns import plan_columns
from tunelake.sources.dump.records import dump_records


def test_a_derived_artist_id_is_stable_and_ignores_case_width_and_spaces():
    one = derived_artist_id("Björk")
    assert one == derived_artist_id("  BJÖRK ") == derived_artist_id("Ｂｊöｒｋ")
    assert one.startswith("name:") and len(one) == len("name:") + 16
    assert int(one.removeprefix("name:"), 16) >= 0
    assert derived_artist_id("Bjork") != one


def test_a_dump_of_names_only_derives_the_artist_ids():
    names = ["track_id", "track_name", "track_artist", "track_popularity", "danceability"]
    columns = plan_columns("songs.csv", names, {})
    assert columns.derived == ("artist_id",)
    assert "artist_id" not in columns.renames.values()
    rows = [
        {"row": 1, "values": {"track_id": "t1", "track_name": "A", "track_artist": "Ann Lee"}},
        {"row": 2, "values": {"track_id": "t2", "track_name": "B", "track_artist": "ann lee"}},
    ]
    records = dump_records(rows, columns.renames)
    assert [a["artist_id"] for a in records.artists] == [derived_artist_id("Ann Lee")]
    assert {t["artist_id"] for t in records.tracks} == {derived_artist_id("Ann Lee")}


def test_a_dump_with_ids_keeps_them():
    columns = plan_columns("d.csv", ["track_id", "track_name", "artist_id", "artist_name"], {})
    assert columns.derived == ()


def test_the_common_names_of_public_dumps_are_recognised():
    names = ["id", "title", "artist", "artist_id", "artist_genre", "artist_followers"]
    names += ["track_duration"]
    renames = plan_columns("d.csv", names, {}).renames
    assert renames["title"] == "track_name"
    assert renames["artist_genre"] == "genres"
    assert renames["artist_followers"] == "followers"
    assert renames["track_duration"] == "duration_ms"
    assert plan_columns("d.csv", ["id", "track", "artist"], {}).renames["track"] == "track_name"


def test_one_dump_column_mapped_to_two_targets_is_refused():
    with pytest.raises(
        DumpError, match="maps the dump column 'a' to both artist_id and artist_name"
    ):
        parse_mapping(["a=artist_id", "a=artist_name"])
    with pytest.raises(DumpError, match="maps both 'a' and 'b' to artist_id"):
        parse_mapping(["a=artist_id", "b=artist_id"])
    assert parse_mapping(["a=artist_id", "a=artist_id"]) == {"a": "artist_id"}


def test_a_missing_column_lists_every_candidate_in_full():
    filler = [f"some_very_long_unrelated_column_name_{i}" for i in range(8)]
    names = ["track_name", "artist_name", *filler, "spotify_track_identifier_x", "track_id_x"]
    with pytest.raises(DumpError) as info:
        plan_columns("d.csv", names, {})
    message = str(info.value)
    assert "lacks column(s) track_id" in message
    assert "candidate columns: spotify_track_identifier_x, track_id_x" in message
    assert "…" not in message


def test_an_artist_id_under_another_name_is_to_be_mapped_not_derived():
    names = ["track_id", "track_name", "artist_name", "track_artist_id", "artist_id_x"]
    with pytest.raises(DumpError) as info:
        plan_columns("d.csv", names, {})
    assert "lacks column(s) artist_id; candidate columns: track_artist_id, artist_id_x" in str(
        info.value
    )
    mapped = plan_columns("d.csv", names, {"artist_id_x": "artist_id"})
    assert mapped.derived == ()
