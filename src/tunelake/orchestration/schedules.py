"""The daily run: at the configured cron and timezone (default 03:00 UTC), today's partition
of every asset that is missing or stale — never materialised for the dt, or older than an
upstream partition, or downstream of one that runs — and nothing else."""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import dagster as dg

from tunelake.orchestration.assets import ASSETS
from tunelake.orchestration.resources import automation

daily_job = dg.define_asset_job(
    "daily",
    # the listening assets have partitions of their own (orchestration/listening.py)
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("listening"),
    description="Every asset of one dt.",
    executor_def=dg.in_process_executor,  # see definitions.py: a process per step costs 6x
)


def _graph(assets: Sequence[dg.AssetsDefinition]) -> dict[dg.AssetKey, set[dg.AssetKey]]:
    """Each asset's upstream assets, in dependency order (ASSETS is listed in that order)."""
    return {
        key: set(definition.asset_deps[key]) for definition in assets for key in definition.keys
    }


UPSTREAM = _graph(ASSETS)


def missing_or_stale(instance: dg.DagsterInstance, partition: str) -> list[dg.AssetKey]:
    """The assets whose partition must be (re)materialised, in dependency order."""
    latest: dict[dg.AssetKey, float | None] = {}
    for key in UPSTREAM:
        found = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        latest[key] = found[0].timestamp if found else None
    chosen: list[dg.AssetKey] = []
    for key, upstream in UPSTREAM.items():
        mine = latest[key]
        if (
            mine is None
            or any(u in chosen for u in upstream)
            or any((latest[u] or 0) > mine for u in upstream)
        ):
            chosen.append(key)
    return chosen


@dg.schedule(
    name="daily",
    job=daily_job,
    cron_schedule=automation().schedule_cron,
    execution_timezone=automation().schedule_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Today's dt: only what is missing or stale.",
)
def daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    zone = ZoneInfo(automation().schedule_timezone)
    partition = context.scheduled_execution_time.astimezone(zone).date().isoformat()
    todo = missing_or_stale(context.instance, partition)
    if not todo:
        return dg.SkipReason(f"dt {partition} is complete and fresh")
    return dg.RunRequest(
        run_key=f"daily-{partition}",
        partition_key=partition,
        asset_selection=todo,
    )
