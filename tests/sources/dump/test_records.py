"""Dump rows → dataset rows: lists in a cell, ranking, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from tunelake.sources.dump.records import dump_records, split_list
from tunelake.validate import REJECTED, SOURCE_ROW, Validated, contract, validate

COLUMNS = {
    c: c
    for c in ("track_id", "track_name", "artist_id", "artist_name", "genres", "popularity", "tempo")
}


def _check(dataset: str, rows: list[dict[str, Any]]) -> Validated:
    # a dump's ids are its own: no id pattern, as the dump source declares
    return validate(contract(dataset, id_pattern=None), rows)


def _rows(*values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"version": "v", "row": n, "values": v} for n, v in enumerate(values, start=1)]


def _track(track_id: str, artist_id: str = "a1", **values: Any) -> dict[str, Any]:
    base = {"track_id": track_id, "track_name": f"Song {track_id}", "artist_id": artist_id}
    return {**base, "artist_name": f"Artist {artist_id}", "tempo": "120", **values}


@pytest.mark.parametrize(
    ("cell", "genres"),
    [
        ("dance pop;pop", ["dance pop", "pop"]),
        ("dance pop|pop", ["dance pop", "pop"]),
        ("['dance pop', 'pop']", ["dance pop", "pop"]),
        ('["dance pop", "pop"]', ["dance pop", "pop"]),
        ("[]", []),
        ("['r&b; soul']", ["r&b; soul"]),
        ("rock", ["rock"]),
        ("", []),
        (None, []),
        (["a", "b"], ["a", "b"]),
    ],
)
def test_a_cell_may_hold_a_list_in_several_forms(cell, genres):
    assert split_list(cell) == genres


def test_list_literal_artists_give_the_primary_artist_and_genres_accumulate():
    found = dump_records(
        _rows(
            _track("t1", "['a1', 'a2']", artist_name="['Ann', 'Bo']", genres="['pop']"),
            _track("t2", "['a1']", artist_name="['Ann']", genres="rock|pop"),
            _track("t3", "a3", genres="[]"),
        ),
        COLUMNS,
    )
    artists = {a["artist_id"]: a for a in found.artists}
    assert artists["a1"]["name"] == "Ann" and artists["a1"]["genres"] == ["pop", "rock"]
    assert artists["a3"]["genres"] == []
    assert {t["track_id"]: t["artist_id"] for t in found.tracks} == {
        "t1": "a1",
        "t2": "a1",
        "t3": "a3",
    }


def test_top_tracks_are_ranked_by_popularity_not_file_order():
    found = dump_records(
        _rows(*(_track(f"t{i}", popularity=str(p)) for i, p in enumerate([5, 90, 40, 70]))),
        COLUMNS,
    )
    ranked = [t["track_id"] for t in sorted(found.top_tracks, key=lambda t: t["rank"])]
    assert ranked == ["t1", "t3", "t2", "t0"]


def test_a_bad_value_is_left_for_validation_with_its_row():
    found = dump_records(_rows(_track("t1"), _track("t2", tempo="abc")), COLUMNS)
    result = _check("audio_features", found.audio_features)
    assert result.counts == {"in": 2, "out": 1, "quarantined": 1}
    [rejected] = result.rejected.to_pylist()
    assert rejected["track_id"] == "t2" and rejected[SOURCE_ROW] == 2
    assert "tempo cannot be read as double" in rejected["reason"]


def test_a_track_under_two_artists_is_a_quarantined_conflict():
    found = dump_records(_rows(_track("t1", "a1"), _track("t1", "a2")), COLUMNS)
    result = _check("tracks", found.tracks)
    assert result.valid["artist_id"].to_pylist() == ["a1"]
    [rejected] = result.rejected.to_pylist()
    assert rejected[SOURCE_ROW] == 2 and REJECTED not in rejected
    assert "listed under artist a1 in row 1 and under a2 here" in rejected["reason"]


def test_a_track_listed_again_with_other_values_is_a_conflict_and_a_repeat_is_not():
    found = dump_records(
        _rows(
            _track("t1", genres="pop"),
            _track("t1", genres="dance pop"),  # a listing per genre: same track
            _track("t1", tempo="99"),
        ),
        COLUMNS,
    )
    result = _check("tracks", found.tracks)
    assert result.counts == {"in": 2, "out": 1, "quarantined": 1}
    [rejected] = result.rejected.to_pylist()
    assert rejected[SOURCE_ROW] == 3 and "other tempo than in row 1" in rejected["reason"]
    assert found.artists[0]["genres"] == ["pop", "dance pop"]
