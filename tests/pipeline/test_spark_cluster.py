"""`tunelake run --engine spark` and `tunelake sql --engine spark` on a real Spark standalone
cluster (a master and two workers on loopback, each its own process): the in-process
engine's state, the DuckDB engine's rows, tasks on both workers, and a worker lost mid-run.

The commands run as the user runs them, in processes of their own (a test process can hold
only one Spark driver, the local session of other modules). Spark's event log, switched on
through a spark-defaults.conf, says which executor ran each task.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import spark_module
from tests.pipeline.conftest import CATALOG_ARTISTS, DT, snapshot
from tunelake import app
from tunelake.config import Settings
from tunelake.pipeline.run import run_pipeline

spark_module("pyspark")

if TYPE_CHECKING:
    from tunelake.localservices.spark_cluster import SparkCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RELATED = "SELECT artist_id, related_artist_id, rank, distance FROM related_artists ORDER BY 1, 3"


def spark_conf(directory: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Spark driver listens on loopback and writes an event log."""
    events = directory / "events"
    events.mkdir(parents=True)
    (directory / "spark-defaults.conf").write_text(
        "spark.driver.host 127.0.0.1\n"
        "spark.driver.bindAddress 127.0.0.1\n"
        "spark.eventLog.enabled true\n"
        "spark.eventLog.rolling.enabled false\n"
        "spark.eventLog.compress false\n"
        f"spark.eventLog.dir file://{events}\n"
    )
    return {**os.environ, "SPARK_CONF_DIR": str(directory)}, events


def tunelake(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tunelake", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=500)
    assert process.returncode == 0, err[-3000:]
    return out


def run_args(settings: Settings, cluster: SparkCluster) -> list[str]:
    return [
        *("run", "--home", str(settings.home), "--dt", DT.isoformat()),
        *("--catalog-artists", str(CATALOG_ARTISTS)),
        *("--engine", "spark", "--spark-master", cluster.master_url),
    ]


def events_of(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.iterdir())
        for line in path.read_text().splitlines()
    ]


def worker_of_executor(events: list[dict[str, Any]]) -> dict[str, str]:
    """executor id -> the web address of the worker that ran it (from its log links)."""
    workers = {}
    for event in events:
        if event["Event"] == "SparkListenerExecutorAdded":
            link = urlsplit(event["Executor Info"]["Log Urls"]["stdout"])
            workers[event["Executor ID"]] = f"{link.scheme}://{link.netloc}"
    return workers


def workers_with_tasks(events: list[dict[str, Any]]) -> set[str]:
    workers = worker_of_executor(events)
    return {
        workers[e["Task Info"]["Executor ID"]]
        for e in events
        if e["Event"] == "SparkListenerTaskEnd" and e["Task End Reason"]["Reason"] == "Success"
    }


def tasks_done(work_dir: Path) -> bool:
    """An executor of the worker has finished a task (its log in the worker's work dir)."""
    return any("Finished task" in log.read_text() for log in work_dir.glob("app-*/*/stderr"))


def test_run_and_sql_on_the_cluster_equal_the_in_process_engines(
    spark_cluster: SparkCluster, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    in_process = make_settings("numpy")
    assert run_pipeline(in_process, dt=DT).ok
    want = snapshot(in_process)
    on_cluster = make_settings("cluster", similarity_engine="spark")
    env, event_dir = spark_conf(tmp_path / "spark-conf")

    finished(tunelake(*run_args(on_cluster, spark_cluster), env=env, cwd=tmp_path))

    # Lake (artist_vectors and related_artists included), warehouse and serving store.
    assert snapshot(on_cluster) == want
    events = events_of(event_dir)
    workers = {w.web_url for w in spark_cluster.workers}
    assert set(worker_of_executor(events).values()) == workers
    assert workers_with_tasks(events) == workers

    sql = tunelake(
        *("sql", "--home", str(on_cluster.home), "--format", "json", RELATED),
        *("--engine", "spark", "--spark-master", spark_cluster.master_url),
        env=env,
        cwd=tmp_path,
    )
    duckdb = app.sql(on_cluster, RELATED, engine="duckdb")
    assert duckdb.rows and json.loads(finished(sql)) == json.loads(duckdb.to_json())


def test_doctor_finds_the_cluster_s_executors_ready(
    spark_cluster: SparkCluster, tmp_path: Path
) -> None:
    env, _ = spark_conf(tmp_path / "spark-conf")
    doctor = tunelake(
        *("doctor", "--home", str(tmp_path / "home"), "--engine", "spark"),
        *("--spark-master", spark_cluster.master_url),
        env=env,
        cwd=tmp_path,
    )
    out = finished(doctor)
    assert f"ok          spark     {spark_cluster.master_url}" in out
    assert "2 executor(s)" in out and "lake reachable" in out


def test_a_worker_lost_mid_transform_changes_nothing(
    spark_cluster: SparkCluster, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """SIGKILL one worker (and its executor) while the transform runs on both: Spark runs
    the lost tasks again on the other, and the run ends in the in-process state."""
    in_process = make_settings("numpy")
    assert run_pipeline(in_process, dt=DT).ok
    on_cluster = make_settings("cluster", similarity_engine="spark")
    env, event_dir = spark_conf(tmp_path / "spark-conf")
    victim, survivor = spark_cluster.workers

    run = tunelake(*run_args(on_cluster, spark_cluster), env=env, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not tasks_done(victim.work_dir):
        assert run.poll() is None and time.monotonic() < deadline, "no task on the worker"
        time.sleep(0.05)
    victim.kill()
    finished(run)

    assert snapshot(on_cluster) == snapshot(in_process)
    events = events_of(event_dir)
    executors = worker_of_executor(events)
    lost = {e["Executor ID"] for e in events if e["Event"] == "SparkListenerExecutorRemoved"}
    # The driver logs the executor's removal only if it notices the loss before the job ends
    # (a heartbeat timeout away); when it does, the lost executor is the victim's.
    assert {executors[e] for e in lost} <= {victim.web_url}
    # Which workers finish a task depends on timing (under load the survivor's executor may
    # register only after the victim's tasks are done); the state above is what must hold.
    assert set() < workers_with_tasks(events) <= {victim.web_url, survivor.web_url}
    assert [w["webuiaddress"] for w in spark_cluster.alive_workers()] == [survivor.web_url]
