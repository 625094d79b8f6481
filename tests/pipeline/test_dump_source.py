"""A dataset dump (CSV or Parquet, one row per track) through the whole pipeline."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.pipeline.conftest import DT, snapshot
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.observability import StepFailed, StepRecord
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import backfill, run_pipeline
from tunelake.sources.dump import DumpError, DumpSpec, read_dump

FEATURES = DEFAULT_VECTOR_FEATURES


def _dump_rows(n_artists: int = 12, tracks_each: int = 4) -> list[dict]:
    rows = []
    for a in range(n_artists):
        genre = "rock" if a % 2 else "jazz"
        for t in range(tracks_each):
            base = 0.2 if genre == "rock" else 0.7
            rows.append(
                {
                    "id": f"trk{a:03d}{t}",
                    "name": f"Song {a}-{t}",
                    "artists": f"Artist {a}",
                    "artist_ids": f"art{a:03d}",
                    "track_genre": genre,
                    "popularity": 50 + t,
                    **{
                        f: round(base + 0.01 * t, 3)
                        for f in FEATURES
                        if f not in ("loudness", "tempo")
                    },
                    "loudness": -8.0 + t,
                    "tempo": 100.0 + 10 * (a % 2),
                }
            )
    return rows


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_dump_runs_the_whole_pipeline(make_settings, tmp_path):
    rows = _dump_rows()
    rows.append({**rows[0], "id": "bad0", "danceability": 3.0})  # out of range: quarantined
    dump = _write_csv(tmp_path / "tracks.csv", rows)
    settings = make_settings(source=f"file:{dump}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        assert res.warehouse.count("artists") == 12
        assert res.warehouse.count("audio_features") == 48
        rejected = res.lake.read_quarantine("audio_features", DT).to_pylist()
        assert [r["track_id"] for r in rejected] == ["bad0"]
        assert "danceability" in rejected[0]["reason"]
        related = res.warehouse.read("related_artists").to_pylist()
        assert "dump" in res.lake.raw_endpoints(DT)
    # artists of one genre are each other's nearest neighbours
    first = {
        r["related_artist_id"] for r in related if r["artist_id"] == "art000" and r["rank"] <= 5
    }
    assert first == {f"art{a:03d}" for a in (2, 4, 6, 8, 10)}


def test_parquet_dump_with_a_column_mapping(tmp_path):
    rows = [
        {"tid": r["id"], "title": r["name"], "singer": r["artists"], "singer_id": r["artist_ids"]}
        for r in _dump_rows(2, 2)
    ]
    path = tmp_path / "tracks.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)

    dump, columns = read_dump(
        DumpSpec(
            path,
            {
                "tid": "track_id",
                "title": "track_name",
                "singer": "artist_name",
                "singer_id": "artist_id",
            },
        )
    )

    assert dump.table.num_rows == 4
    assert columns.renames == {
        "tid": "track_id",
        "title": "track_name",
        "singer": "artist_name",
        "singer_id": "artist_id",
    }
    assert columns.ignored == ()


def test_a_dump_without_ids_says_which_columns_to_map(tmp_path):
    path = _write_csv(tmp_path / "x.csv", [{"title": "a", "singer": "b"}])
    with pytest.raises(DumpError, match=r"track_id.*--map"):
        read_dump(DumpSpec(path))


def _step(result, name: str) -> StepRecord:
    return next(s for s in result.record.steps if s.step == name)


def test_a_bad_value_is_quarantined_with_its_row_and_a_fixed_file_reruns_clean(
    make_settings, tmp_path
):
    rows = _dump_rows()
    dump = _write_csv(tmp_path / "tracks.csv", [*rows[:5], {**rows[5], "tempo": "abc"}, *rows[6:]])
    settings = make_settings(source=f"file:{dump}")

    first = run_pipeline(settings, dt=DT)

    assert first.ok
    with open_resources(settings) as res:
        [rejected] = res.lake.read_quarantine("audio_features", DT).to_pylist()
    assert rejected["track_id"] == rows[5]["id"] and rejected["source_row"] == "6"
    assert "tempo cannot be read as double" in rejected["reason"]

    _write_csv(dump, rows)  # the fixed file: its new content is landed again
    again = run_pipeline(settings, dt=DT)

    assert again.ok and _step(again, "extract").details["fetched_now"] == 12
    clean = make_settings("clean", source=f"file:{dump}")
    assert run_pipeline(clean, dt=DT).ok
    assert snapshot(settings) == snapshot(clean)


def _dump_with_popularity_as_pop(tmp_path: Path) -> tuple[list[dict], Path]:
    """A dump whose popularity column has a name tunelake does not know: `pop`."""
    rows = [
        {**{k: v for k, v in r.items() if k != "popularity"}, "pop": r["popularity"]}
        for r in _dump_rows(4, 3)
    ]
    return rows, _write_csv(tmp_path / "tracks.csv", rows)


def _warehouse_popularity(settings) -> dict:
    with open_resources(settings) as res:
        return {t["track_id"]: t["popularity"] for t in res.warehouse.read("tracks").to_pylist()}


def test_a_corrected_mapping_rederives_and_backfill_keeps_it(make_settings, tmp_path):
    rows, dump = _dump_with_popularity_as_pop(tmp_path)
    settings = make_settings(source=f"file:{dump}")

    first = run_pipeline(settings, dt=DT)
    assert first.ok
    # an unknown column is reported, not silently dropped
    assert _step(first, "extract").details["ignored_columns"] == ["pop"]
    corrected = run_pipeline(settings, dt=DT, dump_mapping={"pop": "popularity"})
    assert corrected.ok and _step(corrected, "extract").details["ignored_columns"] == []
    [refilled] = backfill(settings, start=DT, end=DT)

    assert refilled.ok
    assert _warehouse_popularity(settings) == {r["id"]: r["pop"] for r in rows}


def test_a_backfill_with_a_corrected_mapping_rederives_without_the_file(make_settings, tmp_path):
    rows, dump = _dump_with_popularity_as_pop(tmp_path)
    settings = make_settings(source=f"file:{dump}")
    assert run_pipeline(settings, dt=DT).ok
    dump.unlink()  # the raw zone holds the rows as read: the file is no longer needed

    [refilled] = backfill(settings, start=DT, end=DT, dump_mapping={"pop": "popularity"})

    assert refilled.ok
    assert _warehouse_popularity(settings) == {r["id"]: r["pop"] for r in rows}
    with pytest.raises(StepFailed, match=r"names column.*nope"):
        backfill(settings, start=DT, end=DT, dump_mapping={"nope": "popularity"})


def test_track_popularity_ranks_the_top_tracks(make_settings, tmp_path):
    rows = [
        {
            "track_id": f"t{i:02d}",
            "track_name": f"Song {i}",
            "artist_id": "a1",
            "artist_name": "Ann",
            "track_popularity": (i * 37) % 100,
            "danceability": 0.5,
        }
        for i in range(15)
    ]
    dump = _write_csv(tmp_path / "tracks.csv", rows)
    # the dump's one feature makes the vectors (without any, the transform fails)
    settings = make_settings(source=f"file:{dump}", vector_features=("danceability",))

    assert run_pipeline(settings, dt=DT).ok
    with open_resources(settings) as res:
        top = sorted(res.warehouse.read("top_tracks").to_pylist(), key=lambda t: t["rank"])
    by_popularity = sorted(rows, key=lambda r: -r["track_popularity"])[:10]
    assert [t["track_id"] for t in top] == [r["track_id"] for r in by_popularity]


def test_a_track_under_two_artists_is_quarantined_and_counted(make_settings, tmp_path):
    rows = _dump_rows()
    dump = _write_csv(tmp_path / "tracks.csv", [*rows, {**rows[0], "artist_ids": "art001"}])
    settings = make_settings(source=f"file:{dump}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    assert _step(result, "validate").details["tracks"]["quarantined"] == 1
    with open_resources(settings) as res:
        [rejected] = res.lake.read_quarantine("tracks", DT).to_pylist()
        kept = res.warehouse.read("tracks").to_pylist()
    assert rejected["source_row"] == str(len(rows) + 1)
    assert "listed under artist art000 in row 1 and under art001 here" in rejected["reason"]
    assert [t["artist_id"] for t in kept if t["track_id"] == rows[0]["id"]] == ["art000"]


def test_a_parquet_dump_with_other_column_types_runs_and_quarantines_what_is_bad(
    make_settings, tmp_path
):
    rows = [
        {**r, "artist_ids": int(r["artist_ids"][3:]), "tempo": str(r["tempo"])}
        for r in _dump_rows(6, 4)
    ]
    rows[4]["tempo"] = "fast"  # one bad value in 24 rows: under the reject limit
    path = tmp_path / "tracks.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    settings = make_settings(source=f"file:{path}")

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        artist_ids = {a["artist_id"] for a in res.warehouse.read("artists").to_pylist()}
        assert artist_ids == {"0", "1", "2", "3", "4", "5"}
        [rejected] = res.lake.read_quarantine("audio_features", DT).to_pylist()
    assert rejected["source_row"] == "5" and "tempo cannot be read" in rejected["reason"]
