"""The whole flow on embedded defaults: results, idempotency, resume after SIGKILL, quarantine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.pipeline.conftest import CATALOG_ARTISTS, DT, snapshot
from tunelake.app import failure_summary
from tunelake.observability import StepFailed
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import backfill, run_pipeline
from tunelake.sources.catalog.generator import generate_catalog
from tunelake.sources.raw_responses import RawResponse
from tunelake.storage.lake import open_lake


def test_run_end_to_end(make_settings):
    settings = make_settings()
    result = run_pipeline(settings, dt=DT)

    assert result.ok
    assert [s.step for s in result.record.steps] == [
        "discover",
        "extract",
        "validate",
        "load",
        "transform",
        "publish",
    ]
    assert all(s.status == "ok" for s in result.record.steps)
    with open_resources(settings) as res:
        artists = res.warehouse.read("artists")
        # shared names are ambiguous and left out, never guessed
        assert 0 < artists.num_rows <= CATALOG_ARTISTS
        assert result.counts["artists"] == artists.num_rows
        assert res.lake.read_partition("artists", DT).num_rows == artists.num_rows
        related = res.warehouse.read("related_artists")
        per_artist = Counter(related["artist_id"].to_pylist())
        vectors = res.lake.read_partition("artist_vectors", DT)
        assert set(per_artist) == set(vectors["artist_id"].to_pylist())
        assert set(per_artist.values()) == {10}
        assert all(
            a != b
            for a, b in zip(
                related["artist_id"].to_pylist(),
                related["related_artist_id"].to_pylist(),
                strict=True,
            )
        )
        some = artists["artist_id"][0].as_py()
        doc = res.serving.get(some)
        assert doc["name"] == artists["name"][0].as_py()
        assert doc["related_artists"] and all(
            "name" in r and "image_url" in r for r in doc["related_artists"]
        )
        assert res.serving.find_by_name(f"  {doc['name'].upper()} ")[0]["artist_id"] == some
        runs = res.warehouse.runs(5)
        assert runs[0]["status"] == "ok"
    assert result.report is not None and result.report.is_file()
    record = json.loads((settings.runs_dir / f"{result.record.run_id}.json").read_text())
    assert record["status"] == "ok"


def test_same_dt_twice_gives_the_same_state(make_settings):
    settings = make_settings()
    run_pipeline(settings, dt=DT)
    first = snapshot(settings)
    second_run = run_pipeline(settings, dt=DT)
    assert snapshot(settings) == first
    # the second run resumed: nothing was fetched again
    discover, extract = second_run.record.steps[:2]
    assert discover.details["queried_now"] == 0
    assert extract.details["fetched_now"] == 0


def _run_cli(home: Path, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TUNELAKE_CATALOG_ARTISTS": str(CATALOG_ARTISTS),
        "TUNELAKE_EXTRACT_CHUNK": "4",
        "TUNELAKE_CATALOG_LATENCY_MS": "15",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunelake",
            "run",
            "--home",
            str(home),
            "--dt",
            DT.isoformat(),
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_until(predicate, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, (
            f"the run ended before the kill point: {process.stderr.read()!r}"
        )
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.005)


def _extract_under_way(home: Path) -> bool:
    lake_root = home / "lake"
    if not lake_root.exists():
        return False
    return bool(read_progress(open_lake(str(lake_root)), DT).extracted)


def _load_started(home: Path) -> bool:
    log = home / "logs" / "tunelake.jsonl"
    if not log.exists():
        return False
    for line in log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("event") == "step started" and event.get("step") == "load":
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["extract", "load"])
def test_sigkill_then_rerun_ends_like_a_clean_run(make_settings, tmp_path, kill_point):
    clean = make_settings("clean", catalog_latency_ms=0)
    run_pipeline(clean, dt=DT)

    home = tmp_path / "killed"
    process = _run_cli(home)
    point = _extract_under_way if kill_point == "extract" else _load_started
    _wait_until(lambda: point(home), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    rerun = _run_cli(home)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert snapshot(make_settings("killed")) == snapshot(clean)


def _land_bad_records(settings, known_artist: str, known_track: str) -> None:
    """Raw responses as an API might send them: out-of-range and dangling values."""
    lake = open_lake(settings.resolved_lake_url)
    fetched = "2026-11-26T00:00:00+00:00"
    good = {
        "energy": 0.5, "key": 5, "loudness": -6.0, "mode": 1, "speechiness": 0.1,
        "acousticness": 0.2, "instrumentalness": 0, "liveness": 0.1, "valence": 0.4,
        "tempo": 120.0, "time_signature": 4, "duration_ms": 200000, "type": "audio_features",
    }  # fmt: skip
    features = {
        "audio_features": [
            {**good, "id": known_track, "danceability": 1.7},  # out of range
            {**good, "id": "0000000000000000000000", "danceability": 0.5},  # no such track
        ]
    }
    lake.write_raw(
        "audio_features",
        DT,
        [
            RawResponse(
                "audio_features",
                f"/v1/audio-features?ids={known_track},0000000000000000000000",
                200,
                fetched,
                features,
            ).to_record()
        ],
    )


def _track_without_features(settings) -> tuple[str, str]:
    with open_resources(settings) as res:
        top = res.warehouse.read("top_tracks").to_pylist()
        featured = set(res.warehouse.read("audio_features")["track_id"].to_pylist())
    bare = [t for t in top if t["track_id"] not in featured]
    assert bare, "the catalog leaves a few tracks without audio features"
    return bare[0]["artist_id"], bare[0]["track_id"]


def test_bad_records_are_quarantined_with_reasons(make_settings):
    settings = make_settings()
    run_pipeline(settings, dt=DT)
    artist, track = _track_without_features(settings)
    _land_bad_records(settings, artist, track)

    result = run_pipeline(settings, dt=DT)

    assert result.ok
    with open_resources(settings) as res:
        rejected = res.lake.read_quarantine("audio_features", DT).to_pylist()
        kept = res.warehouse.read("audio_features", {"track_id": track}).to_pylist()
    reasons = {r["track_id"]: r["reason"] for r in rejected}
    assert set(reasons) == {track, "0000000000000000000000"}
    assert "danceability" in reasons[track]
    assert "track_id" in reasons["0000000000000000000000"]
    assert kept == []  # neither reaches the warehouse
    assert result.counts["quarantined"] == 2


def test_too_many_rejects_fail_the_run_and_say_which_step(make_settings):
    settings = make_settings(max_reject_fraction=0.0)
    run_pipeline(settings, dt=DT)
    _land_bad_records(settings, *_track_without_features(settings))

    with pytest.raises(StepFailed) as failure:
        run_pipeline(settings, dt=DT)

    assert failure.value.step == "validate"
    with open_resources(settings) as res:
        latest = res.warehouse.runs(10)
    failed = [r for r in latest if r["status"] == "failed"]
    assert {r["step"] for r in failed} >= {"run", "validate"}
    # one line names the run, the step, the cause, where the rejects are, and the report
    summary = failure_summary(failure.value)
    run = failure.value.run
    assert run is not None and "\n" not in summary
    assert f"run {run.run_id} failed at step validate: TooManyRejects" in summary
    assert "quarantined: 2 audio_features" in summary
    assert "quarantine_audio_features WHERE dt = DATE '2026-11-26'" in summary
    report = Path(run.outputs["report"])
    assert report.is_file() and run.run_id in report.read_text(encoding="utf-8")


def test_similarity_ranks_same_genre_artists_first(make_settings):
    settings = make_settings(catalog_artists=300)
    run_pipeline(settings, dt=DT)
    catalog = generate_catalog(settings.catalog_seed, 300)
    with open_resources(settings) as res:
        related = res.warehouse.read("related_artists").to_pylist()
    same = [
        catalog.genre_of(r["artist_id"]) == catalog.genre_of(r["related_artist_id"])
        for r in related
    ]
    genres = Counter(catalog.genre_of(a) for a in {r["artist_id"] for r in related})
    chance = sum((n / sum(genres.values())) ** 2 for n in genres.values())
    assert sum(same) / len(same) > max(0.8, 3 * chance)


def test_backfill_rederives_from_raw_without_the_api(make_settings):
    settings = make_settings()
    run_pipeline(settings, dt=DT)
    before = snapshot(settings)
    offline = make_settings(source="spotify")  # no credentials: any API call would fail

    results = backfill(offline, start=DT - timedelta(days=2), end=DT)

    assert [r.record.dt for r in results] == [DT]
    assert all(r.ok for r in results)
    assert snapshot(settings) == before


def test_backfill_range_without_raw_data_does_nothing(make_settings):
    settings = make_settings()
    assert backfill(settings, start=date(2020, 1, 1), end=date(2020, 1, 3)) == []


def test_course_queries_equal_the_catalog_computed_independently(make_settings):
    """The course's Athena queries, adjusted only for table names, over the run's lake."""
    from statistics import fmean

    from tunelake.engines.sql import SqlEngine

    settings = make_settings()
    run_pipeline(settings, dt=DT)
    catalog = generate_catalog(settings.catalog_seed, CATALOG_ARTISTS)
    with open_resources(settings) as res:
        engine = SqlEngine(res.lake)
        averages = engine.query(
            "SELECT t.artist_id, AVG(a.danceability) AS danceability, AVG(a.energy) AS energy, "
            "AVG(a.tempo) AS tempo FROM top_tracks t JOIN audio_features a "
            "ON t.track_id = a.track_id AND t.dt = a.dt "
            "WHERE t.dt = (SELECT MAX(dt) FROM top_tracks) GROUP BY t.artist_id"
        ).to_pylist()
        extremes = engine.query(
            "SELECT dt, MIN(danceability) AS lo, MAX(danceability) AS hi, MIN(tempo) AS tlo, "
            "MAX(tempo) AS thi FROM audio_features GROUP BY dt"
        ).to_pylist()
    assert averages
    every_feature = []
    for row in averages:
        features = [catalog.audio_features(t) for t in catalog.top_tracks(row["artist_id"])]
        features = [f for f in features if f is not None]
        every_feature += features
        assert row["danceability"] == pytest.approx(fmean(f.danceability for f in features))
        assert row["energy"] == pytest.approx(fmean(f.energy for f in features))
        assert row["tempo"] == pytest.approx(fmean(f.tempo for f in features))
    (only,) = extremes
    assert only["dt"] == DT
    assert only["lo"] == pytest.approx(min(f.danceability for f in every_feature))
    assert only["thi"] == pytest.approx(max(f.tempo for f in every_feature))
