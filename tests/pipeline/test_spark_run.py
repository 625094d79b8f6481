"""The whole pipeline with the Spark engine ends where the in-process run ends (needs the
`spark` extra)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.conftest import spark_module
from tests.pipeline.conftest import DT, snapshot
from tunelake import app
from tunelake.config import Settings
from tunelake.pipeline.run import backfill, run_pipeline

spark_job = spark_module("tunelake.spark_submit")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_spark_run_and_backfill_end_in_the_in_process_state(
    make_settings: Callable[..., Settings], spark: SparkSession
) -> None:
    in_process = make_settings("numpy")
    on_spark = make_settings("spark", similarity_engine="spark")
    assert run_pipeline(in_process, dt=DT).ok
    result = run_pipeline(on_spark, dt=DT)
    assert result.ok and result.counts["neighbours"] > 0
    (transform,) = [s for s in result.record.steps if s.step == "transform"]
    assert transform.details["engine"] == "spark"
    want = snapshot(in_process)
    # Lake (artist_vectors and related_artists included), warehouse and serving store.
    assert snapshot(on_spark) == want
    (again,) = backfill(on_spark, start=DT, end=DT)
    assert again.ok
    assert snapshot(on_spark) == want


def test_the_spark_submit_entry_point_runs_the_transform_of_a_dt(
    make_settings: Callable[..., Settings],
    spark: SparkSession,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings("job")
    assert run_pipeline(settings, dt=DT).ok
    want = snapshot(settings)
    home = str(settings.home)
    capsys.readouterr()  # the run's own output
    assert spark_job.main(["--dt", DT.isoformat(), "--home", home]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "ok" and record["details"]["engine"] == "spark"
    assert record["rows_out"] == len(want["lake.related_artists"])
    assert snapshot(settings) == want
    assert app.recent_runs(settings, 1)[0].kind == "spark"  # recorded like any run
    # a missing partition is bad input (exit 2, as the CLI's), in one line
    assert spark_job.main(["--dt", "2026-01-01", "--home", home]) == 2
    assert "no artists partition for dt 2026-01-01" in capsys.readouterr().err
