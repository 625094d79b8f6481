"""Which dump column gives each of ours."""

from __future__ import annotations

import pytest

from tests.sources.dump.support import dump_error
from tunelake.sources.dump import DumpSpec, read_dump
from tunelake.sources.dump.columns import parse_mapping, plan_columns
from tunelake.sources.dump.read import DumpError

KAGGLE_GENRES = [
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "tempo",
    "track_genre",
    "artist_ids",
]
TIDYTUESDAY = ["track_id", "track_name", "track_artist", "track_popularity", "playlist_genre"]


def test_common_public_names_are_recognised():
    columns = plan_columns("d.csv", KAGGLE_GENRES, {})
    assert columns.renames == {
        "track_id": "track_id",
        "artists": "artist_name",
        "album_name": "album_name",
        "track_name": "track_name",
        "popularity": "popularity",
        "tempo": "tempo",
        "track_genre": "genres",
        "artist_ids": "artist_id",
    }
    assert columns.ignored == ()


def test_track_popularity_is_popularity_and_ignored_columns_are_listed():
    columns = plan_columns("d.csv", [*TIDYTUESDAY, "artist_id"], {})
    assert columns.renames["track_popularity"] == "popularity"
    assert columns.renames["track_artist"] == "artist_name"
    assert columns.ignored == ("playlist_genre",)


def test_a_mapping_beats_our_own_name_which_beats_an_alias():
    columns = plan_columns(
        "d.csv",
        ["id", "track_id", "name", "artist_id", "artist_name", "artist", "pop"],
        {"pop": "popularity", "name": "track_name"},
    )
    assert columns.renames == {
        "pop": "popularity",
        "name": "track_name",
        "track_id": "track_id",
        "artist_id": "artist_id",
        "artist_name": "artist_name",
    }
    assert columns.ignored == ("id", "artist")


def test_missing_columns_name_the_dump_and_the_fix():
    with pytest.raises(DumpError, match=r"d\.csv lacks column\(s\) track_id.*--map"):
        plan_columns("d.csv", ["track_name", "artist_name"], {})
    # without names, no artist id can be derived either
    with pytest.raises(DumpError, match=r"lacks column\(s\) track_id, artist_id, artist_name"):
        plan_columns("d.csv", ["track_name"], {})


def test_a_mapping_must_name_real_columns():
    with pytest.raises(DumpError, match=r"names column\(s\) tid that d\.csv lacks"):
        plan_columns("d.csv", KAGGLE_GENRES, {"tid": "track_id"})
    with pytest.raises(DumpError, match=r"unknown column\(s\) trackid"):
        plan_columns("d.csv", KAGGLE_GENRES, {"track_id": "trackid"})


def test_parse_mapping():
    assert parse_mapping(["a=track_id", " b = artist_id "]) == {"a": "track_id", "b": "artist_id"}
    with pytest.raises(DumpError, match="DUMP_COLUMN=COLUMN"):
        parse_mapping(["a"])


def test_a_tab_separated_file_named_csv_is_read(tmp_path):
    path = tmp_path / "tracks.csv"
    path.write_text("track_id\ttrack_name\tartist_id\tartist_name\nt1\tOne\ta1\tAnn\n")
    dump, columns = read_dump(DumpSpec(path))
    assert dump.delimiter == "\t" and columns.ignored == ()


def test_an_unreadable_header_is_not_echoed(tmp_path):
    message = dump_error(tmp_path / "garbage.csv", b"\x1b[2J\x07id,na\x1bme\n1,2\n")
    assert "lacks column(s)" in message and "delimiter ','" in message
