"""Backfills through Dagster: partition by partition, as its backfill daemon launches them
(one run per dt), from the raw zone where it holds the dt; two at once end as one."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from tests.pipeline.conftest import DT, snapshot
from tunelake.pipeline.run import run_pipeline

DAYS = [DT - timedelta(days=n) for n in (3, 2, 1, 0)]

# One Dagster backfill in its own process: every asset of each dt in [start, end], in order,
# each in a run of its own on its own (ephemeral) instance, as the daemon would launch them.
BACKFILL = """
import sys
import dagster as dg
from tunelake.orchestration.assets import ASSETS, DAILY
from tunelake.orchestration.checks import CHECKS
from tunelake.orchestration.resources import TunelakeResource

home, start, end = sys.argv[1:]
instance = dg.DagsterInstance.ephemeral()
for partition in DAILY.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)):
    dg.materialize([*ASSETS, *CHECKS], partition_key=partition, instance=instance,
                   resources={"tunelake": TunelakeResource(home=home)})
"""


def _backfill(materialise, days: list[date], home: str) -> None:
    for dt in days:
        assert materialise(dt.isoformat(), home=home).success


@pytest.mark.slow
def test_three_day_backfill_equals_three_daily_runs(materialise, settings_of, monkeypatch):
    three = DAYS[:3]
    for dt in three:
        run_pipeline(settings_of("daily"), dt=dt)
    _backfill(materialise, three, "backfill")
    daily = {dt: snapshot(settings_of("daily"), dt) for dt in three}
    assert {dt: snapshot(settings_of("backfill"), dt) for dt in three} == daily

    # again, from the raw zone alone: a source without credentials fails on any API call
    monkeypatch.setenv("TUNELAKE_SOURCE", "spotify")
    _backfill(materialise, three, "backfill")
    assert {dt: snapshot(settings_of("backfill"), dt) for dt in three} == daily


@pytest.mark.slow
def test_two_overlapping_backfills_equal_one(materialise, settings_of, env):
    _backfill(materialise, DAYS, "one")
    first, last = DAYS[0].isoformat(), DAYS[-1].isoformat()
    middle_a, middle_b = DAYS[1].isoformat(), DAYS[2].isoformat()
    home = str(env / "two")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", BACKFILL, home, start, end],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for start, end in ((first, middle_b), (middle_a, last))
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode()[-3000:]

    assert {dt: snapshot(settings_of("two"), dt) for dt in DAYS} == {
        dt: snapshot(settings_of("one"), dt) for dt in DAYS
    }
