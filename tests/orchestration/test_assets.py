"""The assets materialised in-process give what `tunelake run` gives; any asset runs alone."""

from __future__ import annotations

from datetime import timedelta

from tests.pipeline.conftest import DT, snapshot
from tunelake.orchestration.definitions import defs
from tunelake.pipeline.resources import reading_lake
from tunelake.pipeline.run import run_pipeline

PARTITION = DT.isoformat()


def test_definitions_load():
    defs.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == {
        "raw_responses", "artists", "tracks", "top_tracks", "audio_features",
        "artist_vectors", "related_artists", "serving_documents",
        # orchestration/listening.py
        "plays", "plays_compacted", "artist_daily_plays", "artist_hourly_plays",
        "trending_artists",
    }  # fmt: skip
    assert {s.name for s in repo.sensor_defs} >= {
        "ingest_requests",
        "on_run_failure",
        "on_check_failure",
        "downstream_on_upstream",
    }
    assert repo.get_schedule_def("daily").cron_schedule == "0 3 * * *"


def test_one_partition_gives_the_state_of_tunelake_run(materialise, settings_of):
    result = materialise(PARTITION)

    assert result.success
    checks = {
        (c.asset_key.to_user_string(), c.check_name): c
        for c in result.get_asset_check_evaluations()
    }
    per_partition = [c for c in checks.values() if c.partition == PARTITION]
    assert len(per_partition) == 10 and all(c.passed for c in per_partition)
    # the freshness check looks at the newest dt against today's date: DT is days old
    assert not checks["serving_documents", "freshness"].passed
    run_pipeline(settings_of("cli"), dt=DT)
    assert snapshot(settings_of("home")) == snapshot(settings_of("cli"))
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
    }
    assert meta["artists"]["dagster/row_count"].value > 0
    assert meta["audio_features"]["quarantined"].value == 0
    lake = reading_lake(settings_of("home"))
    related = meta["related_artists"]
    assert related["lake_snapshot"].value == lake.snapshot_id("related_artists")
    assert related["files_written"].value.split(", ") == lake.files("related_artists")[DT]
    assert (
        meta["serving_documents"]["documents"].value == meta["artists"]["dagster/row_count"].value
    )


def test_one_asset_rematerialised_alone_for_a_past_dt(materialise, settings_of):
    old, new = DT - timedelta(days=1), DT
    assert materialise(old.isoformat()).success
    assert materialise(new.isoformat()).success
    before = snapshot(settings_of(), old)
    with_vectors = settings_of()
    # a run of its own, for the older dt, of one asset: it reads its inputs from the lake
    result = materialise(old.isoformat(), selection=["artist_vectors", "related_artists"])

    assert result.success
    assert snapshot(with_vectors, old) == before
    done = {
        m.asset_key.to_user_string()
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
    }
    assert done == {"artist_vectors", "related_artists"}
