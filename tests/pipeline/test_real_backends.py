"""The main job on real backends, chosen by configuration alone, ends in the same state as on
the embedded defaults: MariaDB + S3 + Redis (the `services` profile), PostgreSQL + S3 + DynamoDB."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from tests.conftest import port_open, service_or_skip
from tests.pipeline.conftest import DT, snapshot
from tunelake.cli import app
from tunelake.pipeline.run import run_pipeline

pytestmark = pytest.mark.services

COMBINATIONS = {
    "mariadb-s3-redis": ("mariadb", "redis"),
    "postgresql-s3-dynamodb": ("postgresql", "dynamodb"),
}


@pytest.fixture
def backend_settings(request, make_settings, scratch_database, seaweedfs):
    warehouse, serving = COMBINATIONS[request.param]
    if serving == "redis":
        service_or_skip(
            "Redis", port_open("127.0.0.1", 6379), "start redis-server on 127.0.0.1:6379"
        )
        serving_url = f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex[:8]}"
    else:
        server = request.getfixturevalue("dynalite")
        serving_url = f"dynamodb://artists-{uuid.uuid4().hex[:8]}?endpoint_url={server.endpoint_url}&region=us-east-1"
    return make_settings(
        request.param,
        warehouse_url=scratch_database(warehouse),
        lake_url=f"s3://{seaweedfs.bucket}/lake-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=seaweedfs.endpoint_url,
        s3_access_key_id=seaweedfs.access_key,
        s3_secret_access_key=seaweedfs.secret_key,
        serving_url=serving_url,
    )


@pytest.mark.parametrize("backend_settings", list(COMBINATIONS), indirect=True)
def test_real_backends_end_like_the_embedded_defaults(backend_settings, make_settings):
    embedded = make_settings("embedded")
    run_pipeline(embedded, dt=DT)

    result = run_pipeline(backend_settings, dt=DT)
    again = run_pipeline(backend_settings, dt=DT)

    assert result.ok and again.ok
    assert snapshot(backend_settings) == snapshot(embedded)


@pytest.mark.parametrize("backend_settings", ["mariadb-s3-redis"], indirect=True)
def test_sql_over_the_s3_lake_equals_the_local_lake(backend_settings, make_settings):
    embedded = make_settings("embedded")
    run_pipeline(embedded, dt=DT)
    run_pipeline(backend_settings, dt=DT)
    query = (
        "SELECT t.artist_id, AVG(a.danceability) AS danceability, AVG(a.tempo) AS tempo "
        "FROM top_tracks t JOIN audio_features a ON t.track_id = a.track_id AND t.dt = a.dt "
        "WHERE t.dt = (SELECT MAX(dt) FROM top_tracks) GROUP BY t.artist_id ORDER BY t.artist_id"
    )
    answers = []
    for settings in (embedded, backend_settings):
        from tunelake.engines.sql import SqlEngine
        from tunelake.pipeline.resources import open_resources

        with open_resources(settings) as res:
            answers.append(SqlEngine(res.lake).query(query).to_pylist())
    assert answers[0] == answers[1]
    assert len(answers[0]) > 0


def test_doctor_names_what_is_unreachable_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNELAKE_WAREHOUSE_URL", "mysql+pymysql://root:pw@127.0.0.1:1/test")
    result = CliRunner().invoke(app, ["doctor", "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert "unreachable" in result.output and "TUNELAKE_WAREHOUSE_URL" in result.output
    assert ":pw@" not in result.output
