"""`tunelake orchestrate`: the webserver and daemon start on loopback, answer GraphQL, show
the asset graph, and stop on Ctrl-C leaving no process behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tunelake.orchestration.server import instance_yaml

# where the screenshot is kept after the test (build/ is ignored by git)
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "asset-graph.png"
ASSET_KEYS_QUERY = "{ assetNodes { assetKey { path } } }"
SENSORS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
  ... on RepositoryLocation { repositories { name schedules { name cronSchedule }
  sensors { name } } } } } } } }"""


def _start(env_dir, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`tunelake orchestrate` (with args) on a free port; returns once the webserver answers."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunelake",
            "orchestrate",
            "--port",
            "0",
            "--home",
            str(env_dir / "home"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()  # blocks until the webserver answers (or the process ends)
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert found, (
        f"no URL in {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
    )
    return process, found.group(0)


def _graphql(url: str, query: str) -> dict:
    answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60)
    answer.raise_for_status()
    return answer.json()["data"]


@pytest.mark.slow
def test_orchestrate_serves_the_definitions_and_stops_cleanly(env):
    process, url = _start(env)
    try:
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 3  # the code server, the webserver and the daemon
        # One code server for both: neither starts its own (the daemon would replace its
        # every minute, the old one logging a heartbeat shutdown).
        code_servers = [c for c in children if c.cmdline()[2:5] == ["dagster", "api", "grpc"]]
        assert len(code_servers) == 1 and code_servers[0].ppid() == process.pid
        keys = {
            "/".join(n["assetKey"]["path"]) for n in _graphql(url, ASSET_KEYS_QUERY)["assetNodes"]
        }
        assert {"raw_responses", "artists", "related_artists", "serving_documents"} <= keys
        (location,) = _graphql(url, SENSORS_QUERY)["workspaceOrError"]["locationEntries"]
        (repo,) = location["locationOrLoadError"]["repositories"]
        # the daily run, and listening's (orchestration/listening.py) day and trending
        assert sorted(s["cronSchedule"] for s in repo["schedules"]) == [
            "*/5 * * * *", "0 3 * * *", "30 1 * * *",
        ]  # fmt: skip
        assert {"ingest_requests", "on_run_failure", "on_check_failure", "plays_health"} <= {
            s["name"] for s in repo["sensors"]
        }

        screenshot = SCREENSHOT
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "headless Chromium is needed (.ci/run installs it)"
        subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=1600,1000", "--virtual-time-budget=20000",
                f"--screenshot={screenshot}", f"{url}/asset-groups",
            ],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        process.wait(timeout=60)
    assert process.returncode == 0, process.stderr.read()
    time.sleep(0.5)
    assert not [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_instance_storage_is_postgres_by_configuration(tmp_path):
    assert "sqlite" in instance_yaml(tmp_path, postgres=False)
    text = instance_yaml(tmp_path, postgres=True)
    assert "postgres_url:\n      env: TUNELAKE_DAGSTER_POSTGRES_URL" in text


def test_loading_the_definitions_warns_of_nothing_expected():
    """Partitioned asset checks are a preview feature used on purpose: loading the code
    location (what every code server, run and step does) logs no PreviewWarning."""
    loaded = subprocess.run(
        [sys.executable, "-W", "default", "-c", "import tunelake.orchestration.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "PreviewWarning" not in loaded.stderr
