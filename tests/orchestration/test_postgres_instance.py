"""`tunelake orchestrate` with Dagster's instance on the machine's PostgreSQL (the
`dagster_postgres_url` profile key): a partition launched through the daemon's run queue,
and after a restart of the process the run history and the schedule's state are still
there."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.orchestration.test_server import _start

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.timeout(900)]

DT = "2026-11-26"
WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message }
  ... on RepositoryLocation { repositories { name } } } } } } }"""
SCHEDULE = """query ($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) {
  __typename ... on Schedule { id scheduleState { status } }
  ... on PythonError { message stack } } }"""
STOP_SCHEDULE = """mutation ($id: String!) { stopRunningSchedule(id: $id) {
  __typename ... on ScheduleStateResult { scheduleState { status } }
  ... on PythonError { message } } }"""
LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN = """query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
RUNS = """{ runsOrError { ... on Runs { results { runId status jobName
  tags { key value } } } } }"""


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    import httpx

    answer = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60)
    assert answer.status_code == 200, answer.text[:2000]
    body = answer.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_runs_and_schedules_outlive_a_restart_on_postgresql(
    env: Path, scratch_database: Callable[[str], str]
) -> None:
    # A schema of its own (dropped at the end), as a psycopg2 URL: Dagster's driver.
    url = make_url(scratch_database("postgresql")).set(drivername="postgresql+psycopg2")
    (env / "tunelake.toml").write_text(
        f'[profiles.pg]\ndagster_postgres_url = "{url.render_as_string(hide_password=False)}"\n'
    )
    process, web = _start(env, "--profile", "pg")
    try:
        (entry,) = graphql(web, WORKSPACE)["workspaceOrError"]["locationEntries"]
        assert "repositories" in entry["locationOrLoadError"], entry
        (repo,) = entry["locationOrLoadError"]["repositories"]
        where = {"repositoryLocationName": entry["name"], "repositoryName": repo["name"]}
        schedule = graphql(web, SCHEDULE, selector={**where, "scheduleName": "daily"})
        assert schedule["scheduleOrError"]["scheduleState"]["status"] == "RUNNING"  # default
        stopped = graphql(web, STOP_SCHEDULE, id=schedule["scheduleOrError"]["id"])
        assert stopped["stopRunningSchedule"]["scheduleState"]["status"] == "STOPPED"

        launched = graphql(
            web,
            LAUNCH,
            params={
                # one asset of the daily job: what is kept is the run, not its work
                "selector": {
                    **where,
                    "jobName": "daily",
                    "assetSelection": [{"path": ["raw_responses"]}],
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DT}]},
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        assert launched["run"]["status"] == "QUEUED"  # the daemon's run queue launches it
        deadline = time.monotonic() + 600
        while (status := graphql(web, RUN, id=run_id)["runOrError"]["status"]) not in (
            "SUCCESS",
            "FAILURE",
            "CANCELED",
        ):
            assert time.monotonic() < deadline, f"run {run_id} still {status}"
            time.sleep(1)
        assert status == "SUCCESS"
    finally:
        stop(process)

    # No SQLite instance on disk (runs.db, schedules.db, …): it all comes back from PostgreSQL.
    assert not list((env / "home" / "dagster").rglob("*.db"))
    process, web = _start(env, "--profile", "pg")
    try:
        runs = graphql(web, RUNS)["runsOrError"]["results"]
        (run,) = [r for r in runs if r["runId"] == run_id]
        assert run["status"] == "SUCCESS" and run["jobName"] == "daily"
        assert {"key": "dagster/partition", "value": DT} in run["tags"]
        schedule = graphql(web, SCHEDULE, selector={**where, "scheduleName": "daily"})
        assert schedule["scheduleOrError"]["scheduleState"]["status"] == "STOPPED"
    finally:
        stop(process)
