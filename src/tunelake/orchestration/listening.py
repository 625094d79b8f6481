"""Listening in Dagster: the assets over `plays` and the sensor that watches its stream.

    plays (written by `tunelake events consume`) ─► plays_compacted ─► artist_daily_plays,
                                                 │                   artist_hourly_plays
                                                 └► trending_artists

- `plays_compacted`, `artist_daily_plays`, `artist_hourly_plays`: one partition per UTC day
  (the lake datasets of the same names hold the counts), materialised by the
  `listening_daily` schedule for the day that closed (at 01:30 UTC, after the hour of grace
  `tunelake events compact` gives late events); a backfill redoes any past days.
- `trending_artists`: recomputed and published to the serving store on `TRENDING_CRON`.
- sensor `plays_health`: alerts (webhook + log, as every alert) when the consumer's lag (the
  age of the oldest event not in `plays`) passes `EVENTS_MAX_LAG_S`, when the last commit to
  `plays` is older than `PLAYS_MAX_AGE_MINUTES`, or when the stream cannot be read. It alerts
  when a problem starts and says when it is over, not at every look in between.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import dagster as dg

from tunelake import app as use_cases
from tunelake.engines.listening import Grain
from tunelake.errors import NotFound, TunelakeError
from tunelake.events.status import EventsStatus
from tunelake.listening import PLAY_COUNTS
from tunelake.orchestration.alerts import Alert, send_alert
from tunelake.orchestration.resources import Automation, TunelakeResource, as_failure, automation

GROUP = "listening"
# Transient failures (the broker or a store down, a commit race) retried with backoff.
RETRY = dg.RetryPolicy(
    max_retries=4, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
PLAY_DAYS = dg.DailyPartitionsDefinition(
    start_date=automation().partitions_start.isoformat(), timezone="UTC"
)
"""UTC days, as `plays` is partitioned; only days that are over."""

plays = dg.AssetSpec(
    "plays",
    group_name=GROUP,
    kinds={"iceberg"},
    description="Listening events, committed exactly once by `tunelake events consume`.",
)


@contextmanager
def failing_clearly(context: dg.AssetExecutionContext) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise as_failure(context, exc)  # noqa: B904 (as_failure chains it)


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.asset(
    partitions_def=PLAY_DAYS,
    deps=[plays],
    group_name=GROUP,
    retry_policy=RETRY,
    kinds={"iceberg"},
    description="The day's plays rewritten as few files sorted by (artist_id, ts).",
)
def plays_compacted(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> dg.MaterializeResult:
    with failing_clearly(context):
        (done,) = use_cases.events_compact(tunelake.settings(), day=_day(context))
    return dg.MaterializeResult(
        metadata={
            "files_before": done.files_before,
            "files_after": done.files_after,
            "rows_rewritten": done.rows,
        }
    )


def _counts_asset(grain: Grain) -> dg.AssetsDefinition:
    name = PLAY_COUNTS[grain]

    @dg.asset(
        name=name,
        partitions_def=PLAY_DAYS,
        deps=[plays_compacted],
        group_name=GROUP,
        retry_policy=RETRY,
        kinds={"iceberg"},
        description=f"Plays per artist per {grain} of the day (the lake dataset {name}).",
    )
    def counts(
        context: dg.AssetExecutionContext, tunelake: TunelakeResource
    ) -> dg.MaterializeResult:
        with failing_clearly(context):
            rows = use_cases.write_play_counts(tunelake.settings(), _day(context), grain)
        return dg.MaterializeResult(metadata={"rows": rows})

    return counts


artist_daily_plays = _counts_asset("day")
artist_hourly_plays = _counts_asset("hour")


@dg.asset(
    deps=[plays],
    group_name=GROUP,
    retry_policy=RETRY,
    kinds={"python"},
    description="The trending artists (last hour against their usual rate) in the serving store.",
)
def trending_artists(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> dg.MaterializeResult:
    with failing_clearly(context):
        published = use_cases.publish_trending(tunelake.settings())
    top = [a.name or a.artist_id for a in published.artists[:5]]
    return dg.MaterializeResult(metadata={"trending": len(published.artists), "top": top})


daily_job = dg.define_asset_job(
    "listening_daily",
    selection=[plays_compacted, artist_daily_plays, artist_hourly_plays],
)
listening_daily = dg.build_schedule_from_partitioned_job(
    daily_job,
    name="listening_daily",
    hour_of_day=1,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
trending_job = dg.define_asset_job("trending", selection=[trending_artists])
trending = dg.ScheduleDefinition(
    name="trending",
    job=trending_job,
    cron_schedule=automation().trending_cron,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def problems(status: EventsStatus, now: datetime, config: Automation) -> dict[str, str]:
    """What is wrong with the stream and the table now, by kind: lag and freshness."""
    found = {}
    if status.lag_seconds > config.events_max_lag_s:
        found["lag"] = (
            f"the consumer is {status.lag_seconds:,.0f} s behind ({status.pending:,} messages "
            f"pending; limit {config.events_max_lag_s:,.0f} s)"
        )
    if status.last_commit is not None:
        age = (now - status.last_commit).total_seconds() / 60
        if age > config.plays_max_age_minutes:
            found["freshness"] = (
                f"plays was last committed {age:,.0f} min ago "
                f"(limit {config.plays_max_age_minutes:,.0f} min)"
            )
    return found


@dg.sensor(
    name="plays_health",
    minimum_interval_seconds=automation().events_check_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert when the consumer lags or plays is stale (thresholds in the settings).",
)
def plays_health(context: dg.SensorEvaluationContext, tunelake: TunelakeResource) -> dg.SkipReason:
    settings, config = tunelake.settings(), automation()
    try:
        now = problems(use_cases.events_status(settings), datetime.now(UTC), config)
    except NotFound as exc:  # no lake yet: nothing was ever consumed, nothing to watch
        return dg.SkipReason(str(exc))
    except TunelakeError as exc:  # the broker or the lake cannot be read: that is news too
        now = {"stream": f"the events stream cannot be read: {exc}"}
    before: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    for kind in now.keys() - before.keys():
        send_alert(Alert(f"listening events ({kind})", None, now[kind], None), settings, config)
    for kind in before.keys() - now.keys():
        context.log.info(f"listening events: {kind} is back within its limit")
    context.update_cursor(json.dumps(now))
    return dg.SkipReason("; ".join(now.values()) or "the consumer keeps up and plays is fresh")


ASSETS: list[dg.AssetsDefinition | dg.AssetSpec] = [
    plays,
    plays_compacted,
    artist_daily_plays,
    artist_hourly_plays,
    trending_artists,
]
JOBS = [daily_job, trending_job]
SCHEDULES = [listening_daily, trending]
SENSORS = [plays_health]
