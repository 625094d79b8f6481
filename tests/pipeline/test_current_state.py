"""The rules of current state on every entry point: an older dt writes only its own lake
partitions and says so; an ingest adds artists to the current state without any artist
losing neighbours; no lock is left behind."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.pipeline.model import assert_current_state_holds, no_lock_held, unique_names
from tunelake import app
from tunelake.cli import app as cli
from tunelake.orchestration.assets import ASSETS
from tunelake.orchestration.checks import CHECKS
from tunelake.orchestration.resources import TunelakeResource, automation, today
from tunelake.orchestration.sensors import ingest_requests
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import CURRENT_STATE

OLD, NEW = date(2026, 11, 20), date(2026, 11, 26)
ARTISTS = 24


def _stores(settings) -> dict[str, object]:
    """The warehouse's and the serving store's current state, to compare before and after."""
    with open_resources(settings) as res:
        related = sorted(
            (r["artist_id"], r["rank"], r["related_artist_id"], str(r["dt"]))
            for r in res.warehouse.read("related_artists").to_pylist()
        )
        ids = sorted(res.warehouse.read("artists")["artist_id"].to_pylist())
        docs = res.serving.get_many(ids)
    return {
        "artists": ids,
        "related": related,
        "serving": sorted(
            (i, d["dt"], tuple(r["artist_id"] for r in d["related_artists"]))
            for i, d in docs.items()
        ),
    }


@pytest.fixture
def newer_run(make_settings, monkeypatch):
    """A home whose current state is NEW (12 artists); OLD's artists are 12 others."""
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", str(ARTISTS))  # the CLI's catalog too
    settings = make_settings(catalog_artists=ARTISTS)
    names = unique_names(settings)
    assert app.run(settings, dt=NEW, queries=names[:12]).ok
    return settings, names


def test_an_older_dt_run_leaves_current_state_alone(newer_run):
    settings, names = newer_run
    before = _stores(settings)

    result = app.run(settings, dt=OLD, queries=names[12:])

    assert result.ok
    assert _stores(settings) == before
    assert result.record.outputs[CURRENT_STATE] == f"left alone (newer dt {NEW} is current)"
    assert [s.status for s in result.record.steps][-1] == "skipped"  # publish
    with open_resources(settings) as res:  # its own lake partitions are written
        assert res.lake.read_partition("related_artists", OLD).num_rows > 0
    assert_current_state_holds(settings)


def test_the_cli_says_an_older_dt_left_current_state_alone(newer_run):
    settings, names = newer_run
    before = _stores(settings)
    args = ["run", "--home", str(settings.home), "--dt", OLD.isoformat()]
    for name in names[12:16]:
        args += ["--artist", name]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 0, result.output
    assert "left alone (newer dt 2026-11-26 is current)" in " ".join(result.output.split())
    assert _stores(settings) == before


def test_an_older_dt_backfill_leaves_current_state_alone(newer_run):
    settings, names = newer_run
    assert app.run(settings, dt=OLD, queries=names[12:]).ok
    before = _stores(settings)

    (result,) = app.backfill(settings, start=OLD, end=OLD)

    assert result.record.outputs[CURRENT_STATE].startswith("left alone")
    assert _stores(settings) == before
    (again,) = app.backfill(settings, start=NEW, end=NEW)  # the newest one is current
    assert again.record.outputs[CURRENT_STATE] == f"updated (dt {NEW} is the newest)"
    assert_current_state_holds(settings)


def test_an_older_dt_dagster_asset_leaves_current_state_alone(newer_run):
    settings, names = newer_run
    assert app.run(settings, dt=OLD, queries=names[12:]).ok
    before = _stores(settings)

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*ASSETS, *CHECKS],
            partition_key=OLD.isoformat(),
            instance=instance,
            resources={"tunelake": TunelakeResource(home=str(settings.home))},
        )
        assert result.success
        published = result.asset_materializations_for_node("serving_documents")[0]

    assert published.metadata["skipped_older_dt"].value is True
    assert published.metadata["current_state"].text.startswith("left alone (newer dt 2026-11-26")
    assert _stores(settings) == before
    assert no_lock_held(settings) == []


def _ingest_keeps_neighbours(settings, before: dict, new_name: str, kept_name: str) -> None:
    """After an ingest on a newer dt: the current set is the old one plus the new artist;
    neighbours exact over it; the new artist in others' lists where it belongs."""
    state = assert_current_state_holds(settings)
    old_current = set(before["artists"])
    assert old_current < state["current"]
    (new_id,) = state["current"] - old_current
    with open_resources(settings) as res:
        kept = res.serving.find_by_name(kept_name)[0]
        new_doc = res.serving.find_by_name(new_name)[0]
    assert new_doc["artist_id"] == new_id
    assert len(kept["related_artists"]) == settings.similarity_k  # it lost none
    listed_by = [
        a
        for a, doc in state["serving"].items()
        if new_id in {r["artist_id"] for r in doc["related_artists"]}
    ]
    assert listed_by  # with 13 artists and k = 10, the new one is someone's neighbour


def test_ingest_adds_to_the_current_state(newer_run):
    settings, names = newer_run
    before = _stores(settings)
    later = date(2026, 11, 27)

    result = app.ingest(settings, dt=later, queries=[names[0], names[20]])

    assert result.ok and result.record.kind == "ingest"
    _ingest_keeps_neighbours(settings, before, names[20], names[0])


def test_cli_ingest_adds_to_the_current_state(newer_run):
    settings, names = newer_run
    before = _stores(settings)
    args = ["ingest", "--home", str(settings.home), "--dt", "2026-11-27"]
    result = CliRunner().invoke(cli, [*args, "--artist", names[0], "--artist", names[20]])

    assert result.exit_code == 0, result.output
    _ingest_keeps_neighbours(settings, before, names[20], names[0])


def test_api_ingest_through_the_sensor_adds_to_the_current_state(make_settings, monkeypatch):
    from fastapi.testclient import TestClient

    from tunelake.service.api import create_app

    settings = make_settings(catalog_artists=ARTISTS)
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", str(ARTISTS))
    names = unique_names(settings)
    yesterday = today(automation().schedule_timezone).toordinal() - 1
    assert app.run(settings, dt=date.fromordinal(yesterday), queries=names[:12]).ok
    before = _stores(settings)

    serving = settings.model_copy(update={"api_token": SecretStr("t0ken")})
    with TestClient(create_app(serving)) as client:
        asked = client.post(
            "/ingest-requests",
            json={"artist": names[20]},
            headers={"Authorization": "Bearer t0ken"},
        )
    assert asked.status_code == 202, asked.text
    resources = {"tunelake": TunelakeResource(home=str(settings.home))}
    with dg.instance_for_test() as instance:
        request = ingest_requests(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(request, dg.RunRequest)
        run = dg.materialize(
            [*ASSETS, *CHECKS],
            partition_key=request.partition_key,
            instance=instance,
            resources=resources,
            tags=request.tags,
            run_config={"ops": request.run_config["ops"]},
        )
    assert run.success
    _ingest_keeps_neighbours(settings, before, names[20], names[0])
