"""The schedule, the sensors, the checks and the automation, evaluated with Dagster's test
contexts over real runs on embedded defaults."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, datetime, time

import dagster as dg

from tests.pipeline.conftest import DT
from tests.pipeline.test_run import _land_bad_records, _track_without_features
from tunelake import app
from tunelake.config import load_settings
from tunelake.orchestration.alerts import redact
from tunelake.orchestration.definitions import defs
from tunelake.orchestration.resources import TunelakeResource, automation, today
from tunelake.orchestration.schedules import daily
from tunelake.orchestration.sensors import (
    REQUESTS_TAG,
    ingest_requests,
    on_check_failure,
    on_run_failure,
)
from tunelake.pipeline.lock import dt_lock
from tunelake.sources.catalog.generator import generate_catalog

PARTITION = DT.isoformat()
ALL = [
    "raw_responses", "artists", "tracks", "top_tracks", "audio_features",
    "artist_vectors", "related_artists", "serving_documents",
]  # fmt: skip
CURATED = ["artists", "tracks", "top_tracks", "audio_features"]
DOWNSTREAM = ["artist_vectors", "related_artists", "serving_documents"]


def _keys(request: dg.RunRequest) -> list[str]:
    return sorted(k.to_user_string() for k in request.asset_selection or [])


def _materialised(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _resources(env) -> dict[str, object]:
    return {"tunelake": TunelakeResource(home=str(env / "home"))}


def test_schedule_runs_only_what_is_missing_or_stale(materialise, instance):
    at_three = datetime.combine(DT, time(3), UTC)

    def evaluate() -> dg.RunRequest | dg.SkipReason:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=at_three)
        return daily(context)

    first = evaluate()
    assert isinstance(first, dg.RunRequest) and first.partition_key == PARTITION
    assert _keys(first) == sorted(ALL)
    assert materialise(PARTITION).success
    assert isinstance(evaluate(), dg.SkipReason)
    # the curated datasets made again: what derives from them is stale, nothing else
    assert materialise(PARTITION, selection=["artists", "tracks", "top_tracks", "audio_features"])
    assert _keys(evaluate()) == DOWNSTREAM


def test_outbox_sensor_runs_pending_requests_once(materialise, instance, env, settings_of):
    context = dg.build_sensor_context(instance=instance, resources=_resources(env))
    assert isinstance(ingest_requests(context), dg.SkipReason)  # nothing has run yet
    settings = settings_of()
    names = generate_catalog(settings.catalog_seed, settings.catalog_artists).artists.names
    name = next(n for n in names if names.count(n) == 1)  # a shared name would be ambiguous
    queued = app.request_ingest(settings, [name, "Nobody At All Zzz"], source="cli")

    request = ingest_requests(context)
    again = ingest_requests(dg.build_sensor_context(instance=instance, resources=_resources(env)))

    assert isinstance(request, dg.RunRequest) and isinstance(again, dg.RunRequest)
    assert request.run_key == again.run_key
    assert request.tags[REQUESTS_TAG] == ",".join(str(q.request_id) for q in queued)
    assert request.partition_key == today(automation().schedule_timezone).isoformat()
    config = request.run_config["ops"]["raw_responses"]["config"]
    assert config["artists"] == [name, "Nobody At All Zzz"]
    # the run it asks for: discovery resolves each request
    run = materialise(
        request.partition_key,
        selection=["raw_responses"],
        tags=request.tags,
        ops=request.run_config["ops"],
    )
    assert run.success
    done = [app.ingest_request(settings, q.request_id) for q in queued]
    assert [r.status for r in done] == ["done", "not_found"]
    assert done[0].artist_id
    assert isinstance(ingest_requests(context), dg.SkipReason)


def _failure_context(instance, run_id: str, env) -> dg.RunFailureSensorContext:
    event = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    return dg.build_run_status_sensor_context(
        sensor_name="on_run_failure",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources=_resources(env),
    ).for_run_failure()


def test_failed_run_alerts_without_secrets_and_fails_its_requests(
    materialise, instance, env, receiver, monkeypatch, settings_of
):
    secret = "sp-secret-value-42"
    monkeypatch.setenv("TUNELAKE_SOURCE", "spotify")  # no client id: the source cannot start
    monkeypatch.setenv("TUNELAKE_SPOTIFY_CLIENT_SECRET", secret)
    (queued,) = app.request_ingest(settings_of(), ["Somebody"], source="api")
    result = materialise(
        PARTITION,
        selection=["raw_responses"],
        raise_on_error=False,
        tags={REQUESTS_TAG: str(queued.request_id)},
    )
    assert not result.success

    on_run_failure(_failure_context(instance, result.run_id, env))

    (post,) = receiver.posts
    text = post["text"]
    assert "raw_responses" in text and f"dt {PARTITION}" in text
    assert "spotify source needs" in text
    assert f"/runs/{result.run_id}" in text
    assert secret not in post["raw"] and receiver.token not in post["raw"]
    log = (settings_of().logs_dir / "tunelake.jsonl").read_text()
    assert "spotify source needs" in log and secret not in log and receiver.token not in log
    failed = app.ingest_request(settings_of(), queued.request_id)
    assert failed.status == "failed" and "spotify source needs" in failed.detail


def test_redact_masks_secrets_urls_and_credentials(env, monkeypatch):
    monkeypatch.setenv("TUNELAKE_S3_SECRET_ACCESS_KEY", "s3-key-value")
    settings = load_settings(home=env / "home")
    text = "s3-key-value in mysql+pymysql://root:pw123@db/x sent Authorization: Bearer abc.def"
    masked = redact(text, settings, automation())
    assert "s3-key-value" not in masked and "pw123" not in masked and "abc.def" not in masked
    assert "mysql+pymysql://root:***@db/x" in masked


def test_failing_blocking_check_stops_downstream_and_alerts(
    materialise, instance, env, receiver, monkeypatch, settings_of
):
    monkeypatch.setenv("TUNELAKE_MAX_REJECT_FRACTION", "0")
    assert materialise(PARTITION).success
    settings = settings_of()
    _land_bad_records(settings, *_track_without_features(settings))

    result = materialise(PARTITION, raise_on_error=False)

    checks = {
        (c.asset_key.to_user_string(), c.check_name): c
        for c in result.get_asset_check_evaluations()
    }
    assert not checks["audio_features", "rejects_fraction"].passed
    assert checks["audio_features", "contract"].passed  # the rejects are in quarantine only
    assert _materialised(result) == {"raw_responses", *CURATED}
    on_run_failure(_failure_context(instance, result.run_id, env))
    (alert,) = [p["text"] for p in receiver.posts if "check rejects_fraction" in p["text"]]
    assert "audio_features" in alert and f"dt {PARTITION}" in alert
    assert "rejected 2 of" in alert  # the cause: how many rows, of how many


def test_failed_non_blocking_check_of_a_successful_run_alerts(materialise, instance, env, receiver):
    # DT is days before today: the freshness check warns, the run succeeds
    result = materialise(PARTITION)
    assert result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="on_check_failure",
        dagster_event=instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[
            0
        ].dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        resources=_resources(env),
    )
    on_check_failure(context)
    (post,) = receiver.posts
    assert "check freshness of serving_documents" in post["text"]
    assert f"the newest dt, {PARTITION}" in post["text"]


def test_downstream_starts_when_upstream_partition_lands(materialise, instance):
    dt = today(automation().schedule_timezone).isoformat()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing upstream yet

    assert materialise(dt, selection=["raw_responses"]).success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)

    requested = {
        key.to_user_string(): second.get_requested_partitions(key)
        for key in defs.resolve_all_asset_keys()
        if second.get_num_requested(key)
    }
    assert requested == {name: {dt} for name in CURATED}


def _retries(instance, run_id: str) -> int:
    return len(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))


def test_transient_failure_is_retried_with_backoff(materialise, instance, settings_of):
    settings = settings_of()
    held = threading.Event()

    def hold_the_dt() -> None:
        """Another writer holds the dt until the asset has failed on it once."""
        with dt_lock(settings.home, DT, "a test"):
            held.set()
            deadline = clock.monotonic() + 120
            while clock.monotonic() < deadline:
                runs = instance.get_runs(limit=1)
                if runs and _retries(instance, runs[0].run_id):
                    return
                clock.sleep(0.1)

    holder = threading.Thread(target=hold_the_dt)
    holder.start()
    held.wait(10)
    result = materialise(PARTITION, selection=["raw_responses"])
    holder.join()

    assert result.success
    assert _retries(instance, result.run_id) >= 1  # RunLocked is transient: Dagster retried
    assert any("RunLocked" in (e.message or "") for e in instance.all_logs(result.run_id))


def test_other_failures_are_not_retried(materialise, instance, monkeypatch):
    monkeypatch.setenv("TUNELAKE_SOURCE", "spotify")  # no credentials: a ConfigError
    result = materialise(PARTITION, selection=["raw_responses"], raise_on_error=False)
    assert not result.success
    assert _retries(instance, result.run_id) == 0
