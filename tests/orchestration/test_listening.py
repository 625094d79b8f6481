"""The listening assets and the plays_health sensor, in-process on a throw-away Dagster
instance: compaction and daily aggregates of a day of plays, the trending list published,
and alerts on the consumer's lag and on a stale `plays` (the machine's NATS)."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import REDIS_EVENTS
from tests.orchestration.conftest import Receiver
from tests.plays_table import append_plays, many, plays
from tunelake import app
from tunelake.config import load_settings
from tunelake.events.broker import StreamInfo
from tunelake.events.status import EventsStatus
from tunelake.listening import PLAY_COUNTS, TRENDING
from tunelake.orchestration import listening
from tunelake.orchestration.resources import TunelakeResource, automation
from tunelake.pipeline.resources import lake_of, reading_serving

DAY = "2026-12-01"
MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)


def _resources(env: Path) -> dict[str, TunelakeResource]:
    return {"tunelake": TunelakeResource(home=str(env / "home"))}


def test_a_day_is_compacted_then_counted_per_artist_per_day_and_hour(
    env: Path, instance: dg.DagsterInstance
) -> None:
    lake = lake_of(load_settings(home=env / "home"))
    for hour in range(3):  # three micro-batches: three files of the day
        at = MIDNIGHT + timedelta(hours=hour)
        append_plays(lake, plays(many("a", at, 2) + many("b", at, 1)))
    append_plays(lake, plays(many("a", MIDNIGHT + timedelta(days=1), 5)))  # the next day
    result = dg.materialize(
        listening.ASSETS,
        selection=[
            listening.plays_compacted,
            listening.artist_daily_plays,
            listening.artist_hourly_plays,
        ],
        partition_key=DAY,
        instance=instance,
        resources=_resources(env),
    )
    assert result.success
    compacted = result.asset_materializations_for_node("plays_compacted")[0].metadata
    assert (compacted["files_before"].value, compacted["files_after"].value) == (3, 1)
    assert compacted["rows_rewritten"].value == 9
    assert (
        result.asset_materializations_for_node("artist_hourly_plays")[0].metadata["rows"].value == 6
    )
    daily = lake.read_partition(PLAY_COUNTS["day"], MIDNIGHT.date())
    assert daily is not None
    assert sorted(daily.select(["artist_id", "plays"]).to_pylist(), key=str) == [
        {"artist_id": "a", "plays": 6},
        {"artist_id": "b", "plays": 3},
    ]
    # the counts are lake datasets: `tunelake sql` has a view of each
    settings = load_settings(home=env / "home")
    hourly = app.sql(
        settings,
        "SELECT artist_id, hour, plays FROM artist_hourly_plays "
        f"WHERE dt = DATE '{DAY}' ORDER BY hour, artist_id",
    )
    assert [(a, h.hour, n) for a, h, n in hourly.rows] == [
        ("a", 0, 2), ("b", 0, 1), ("a", 1, 2), ("b", 1, 1), ("a", 2, 2), ("b", 2, 1),
    ]  # fmt: skip
    total = app.sql(settings, f"SELECT SUM(plays) FROM artist_daily_plays WHERE dt = '{DAY}'")
    assert total.rows == [(9,)]


def test_the_trending_asset_publishes_the_list(env: Path, instance: dg.DagsterInstance) -> None:
    settings = load_settings(home=env / "home")
    append_plays(lake_of(settings), plays(many("x", datetime.now(UTC) - timedelta(minutes=3), 12)))
    result = dg.materialize(
        [listening.plays, listening.trending_artists],
        selection=[listening.trending_artists],
        instance=instance,
        resources=_resources(env),
    )
    assert result.success
    with reading_serving(settings) as store:
        published = store.get_list(TRENDING)
    assert published is not None
    assert [(a["artist_id"], a["plays"]) for a in published["artists"]] == [("x", 12)]


def test_the_schedules_and_the_sensor_are_defined() -> None:
    from tunelake.orchestration.definitions import defs

    repo = defs.get_repository_def()
    assert repo.get_schedule_def("trending").cron_schedule == "*/5 * * * *"
    assert repo.get_schedule_def("listening_daily").job_name == "listening_daily"
    assert repo.has_sensor_def("plays_health")
    # the pipeline's daily job keeps to the pipeline's assets (its partitions are dts)
    daily = {k.to_user_string() for k in repo.get_job("daily").asset_layer.executable_asset_keys}
    assert "artists" in daily and "plays_compacted" not in daily


def _status(lag: float, committed: datetime | None) -> EventsStatus:
    info = StreamInfo("plays", "nats://127.0.0.1:4222", 10, 1, 10)
    return EventsStatus(info, 4, 6, lag, committed, 40, {})


def test_problems_are_lag_and_freshness_past_their_limits(env: Path) -> None:
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    config = automation()  # 300 s of lag, 60 minutes since the last commit
    assert listening.problems(_status(299, now - timedelta(minutes=59)), now, config) == {}
    assert listening.problems(_status(0, None), now, config) == {}  # nothing committed yet
    found = listening.problems(_status(301, now - timedelta(minutes=61)), now, config)
    assert sorted(found) == ["freshness", "lag"]
    assert "301 s behind (6 messages pending" in found["lag"]
    assert "61 min ago" in found["freshness"]


@pytest.mark.services
@pytest.mark.timeout(120)
def test_plays_health_alerts_when_a_problem_starts_and_not_again(
    env: Path,
    instance: dg.DagsterInstance,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    redis_events_stream: str,
) -> None:
    monkeypatch.setenv("TUNELAKE_EVENTS_URL", REDIS_EVENTS)
    monkeypatch.setenv("TUNELAKE_EVENTS_STREAM", redis_events_stream)
    monkeypatch.setenv("TUNELAKE_EVENTS_MAX_LAG_S", "1")
    settings = load_settings(home=env / "home")
    cursor = None

    def look() -> str | None:
        context = dg.build_sensor_context(
            instance=instance, resources=_resources(env), cursor=cursor
        )
        listening.plays_health(context)
        return context.cursor

    app.events_produce(settings, count=50)
    app.events_consume(settings, until_idle=1)
    cursor = look()
    assert receiver.posts == []  # the consumer keeps up

    app.events_produce(settings, count=50)  # and nobody consumes them
    time.sleep(1.5)
    cursor = look()
    (alert,) = receiver.posts
    assert "listening events (lag)" in alert["text"]
    assert "messages pending" in alert["text"]
    cursor = look()
    assert len(receiver.posts) == 1  # still lagging: not alerted again

    app.events_consume(settings, until_idle=1)
    cursor = look()
    assert cursor == "{}" and len(receiver.posts) == 1  # over: said in the log, not alerted

    monkeypatch.setenv("TUNELAKE_PLAYS_MAX_AGE_MINUTES", "0.01")  # 0.6 s
    time.sleep(1)
    cursor = look()
    assert "listening events (freshness)" in receiver.posts[-1]["text"]
    assert receiver.token not in receiver.posts[-1]["raw"]


def test_the_daily_schedule_asks_for_the_day_that_closed(instance: dg.DagsterInstance) -> None:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
    )
    from tunelake.orchestration.definitions import defs

    schedule = defs.get_repository_def().get_schedule_def("listening_daily")
    (request,) = schedule.evaluate_tick(context).run_requests or []
    assert request.partition_key == "2026-12-04"


def test_plays_health_alerts_when_the_stream_cannot_be_read(
    env: Path,
    instance: dg.DagsterInstance,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TUNELAKE_EVENTS_URL", "redis://:hunter2@127.0.0.1:1/0")  # nothing there
    context = dg.build_sensor_context(instance=instance, resources=_resources(env))
    skipped = listening.plays_health(context)
    assert "no lake" in str(skipped.skip_message)  # nothing consumed yet: nothing to watch
    assert receiver.posts == []

    lake_of(load_settings(home=env / "home"))  # a lake, as after a first consume
    context = dg.build_sensor_context(instance=instance, resources=_resources(env))
    listening.plays_health(context)
    (alert,) = receiver.posts
    assert "listening events (stream)" in alert["text"]
    assert "cannot be read" in alert["text"]
    assert "hunter2" not in alert["raw"]
