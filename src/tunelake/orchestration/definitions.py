"""The Dagster code location: `dagster dev -m tunelake.orchestration.definitions`, or
`tunelake orchestrate`, loads `defs`."""

from __future__ import annotations

import dagster as dg

from tunelake.orchestration import listening
from tunelake.orchestration.assets import ASSETS
from tunelake.orchestration.checks import CHECKS
from tunelake.orchestration.resources import TunelakeResource
from tunelake.orchestration.schedules import daily, daily_job
from tunelake.orchestration.sensors import SENSORS, ingest_job

# Declarative automation: downstream partitions start when their upstream is materialised
# and its blocking checks passed; on by default, like the schedule and the sensors.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "downstream_on_upstream",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)

defs = dg.Definitions(
    assets=[*ASSETS, *listening.ASSETS],
    asset_checks=CHECKS,
    jobs=[daily_job, ingest_job, *listening.JOBS],
    schedules=[daily, *listening.SCHEDULES],
    sensors=[*SENSORS, automation_sensor, *listening.SENSORS],
    resources={"tunelake": TunelakeResource()},
    # Every job (the schedule's, the sensor's, a backfill launched from the UI) runs its steps
    # in the run's one process: the steps are short and each would otherwise start a Python
    # process importing Dagster, pyiceberg and pyarrow (a one-partition backfill took 96 s
    # against 15 s for `tunelake run`; benchmarks/bench_orchestrate.py measures it).
    executor=dg.in_process_executor,
)
