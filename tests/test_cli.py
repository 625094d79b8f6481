"""The tunelake command, as a user calls it."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tunelake.cli import app
from tunelake.errors import EX_USAGE

DT = "2026-11-26"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", "40")
    return tmp_path / "data"


@pytest.fixture
def ran(home):
    result = CliRunner().invoke(app, ["run", "--home", str(home), "--dt", DT])
    assert result.exit_code == 0, result.output
    return result


def test_run_prints_a_summary_with_every_step_and_output(ran, home):
    for word in (
        "discover",
        "extract",
        "validate",
        "load",
        "transform",
        "publish",
        "warehouse",
        "lake",
        "report",
    ):
        assert word in ran.output
    assert (home / "warehouse.db").is_file()
    assert list((home / "reports").glob("*.html"))
    assert (home / "logs" / "tunelake.jsonl").is_file()


def test_sql_formats(ran, home):
    query = "SELECT dt, COUNT(*) AS n FROM artists GROUP BY dt"
    as_json = CliRunner().invoke(app, ["sql", query, "--home", str(home), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert rows[0]["dt"] == DT and rows[0]["n"] > 0
    as_csv = CliRunner().invoke(app, ["sql", query, "--home", str(home), "--format", "csv"])
    assert next(iter(csv.DictReader(io.StringIO(as_csv.stdout))))["n"] == str(rows[0]["n"])


def test_sql_from_a_file_and_a_clear_error(ran, home, tmp_path):
    path = tmp_path / "q.sql"
    path.write_text("SELECT COUNT(*) AS n FROM related_artists", encoding="utf-8")
    ok = CliRunner().invoke(
        app, ["sql", "--file", str(path), "--home", str(home), "--format", "json"]
    )
    assert json.loads(ok.stdout)[0]["n"] > 0
    bad = CliRunner().invoke(app, ["sql", "SELEC nonsense", "--home", str(home)])
    assert bad.exit_code == EX_USAGE
    assert bad.output.startswith("error:") and len(bad.output.strip().splitlines()) == 1


def test_similar_runs_and_ingest(ran, home):
    name = json.loads(
        CliRunner()
        .invoke(
            app,
            [
                "sql",
                "SELECT name FROM artists ORDER BY artist_id LIMIT 1",
                "--home",
                str(home),
                "--format",
                "json",
            ],
        )
        .stdout
    )[0]["name"]
    similar = CliRunner().invoke(app, ["similar", name.lower(), "--home", str(home)])
    assert similar.exit_code == 0, similar.output
    assert "like" in similar.output
    runs = CliRunner().invoke(app, ["runs", "--home", str(home)])
    assert runs.exit_code == 0 and "ok" in runs.output
    missing = CliRunner().invoke(app, ["similar", "No Such Artist Anywhere", "--home", str(home)])
    assert missing.exit_code == 1 and "tunelake ingest" in missing.output


def test_a_failed_run_exits_nonzero_with_one_line(home, tmp_path):
    result = CliRunner().invoke(
        app, ["run", "--home", str(home), "--source", f"file:{tmp_path}/none.csv"]
    )
    assert result.exit_code == EX_USAGE
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: dataset dump") and last.endswith("does not exist")


def test_bad_dt_and_unknown_profile(home):
    assert (
        "YYYY-MM-DD"
        in CliRunner().invoke(app, ["run", "--home", str(home), "--dt", "26/11"]).output
    )
    unknown = CliRunner().invoke(app, ["runs", "--home", str(home), "--profile", "nope"])
    assert unknown.exit_code == EX_USAGE and "profile 'nope' is not defined" in unknown.output


def test_catalog_serve_prints_its_port_and_answers(tmp_path):
    import re

    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "tunelake", "catalog", "serve", "--port", "0", "--artists", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        token = httpx.post(
            f"{base}/api/token",
            data={"grant_type": "client_credentials"},
            auth=("tunelake", "tunelake-secret"),
        ).json()["access_token"]
        found = httpx.get(
            f"{base}/v1/search",
            params={"q": "a", "type": "artist", "limit": 3},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert found["artists"]["limit"] == 3 and len(found["artists"]["items"]) == 3
        refused = httpx.post(
            f"{base}/api/token",
            data={"grant_type": "client_credentials"},
            auth=("tunelake", "wrong"),
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_ingest_queues_requests_and_records_their_outcome(home):
    from tunelake.config import load_settings
    from tunelake.pipeline.resources import open_resources
    from tunelake.sources.catalog.generator import generate_catalog

    name = generate_catalog(42, 40).seed_names()[3]
    result = CliRunner().invoke(
        app,
        ["ingest", "--home", str(home), "--dt", DT, "--artist", name, "--artist", "Nobody At All"],
    )
    assert result.exit_code == 0, result.output
    with open_resources(load_settings(home=home)) as res:
        requests = {r["query"]: r for r in res.warehouse.read("ingest_requests").to_pylist()}
        assert res.warehouse.pending_ingest_requests() == []
        assert res.warehouse.count("artists") == 1
    assert requests[name]["status"] == "done" and requests[name]["artist_id"]
    assert requests["Nobody At All"]["status"] == "not_found"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("env", "args", "code", "says"),
    [
        (
            {
                "TUNELAKE_WAREHOUSE_URL": f"postgresql+psycopg://u:pw-9x@127.0.0.1:{_closed_port()}/db"
            },
            ["runs"],
            69,
            "warehouse postgresql+psycopg://u:***@127.0.0.1",
        ),
        (
            {"TUNELAKE_SERVING_URL": f"redis://:pw-9x@127.0.0.1:{_closed_port()}/0"},
            ["similar", "anyone"],
            69,
            "serving store redis://:***@127.0.0.1",
        ),
        ({"TUNELAKE_LAKE_URL": "s3://bad=bucket/x"}, ["sql", "SELECT 1"], 1, "has '=' in it"),
        ({}, ["run", "--dt", DT, "--seeds", "empty.txt"], EX_USAGE, "names no artist"),
    ],
)
def test_expected_failures_are_one_line_with_their_exit_code(
    home, tmp_path, monkeypatch, env, args, code, says
):
    (tmp_path / "empty.txt").write_text("# nobody\n", encoding="utf-8")
    home.mkdir()
    (home / "warehouse.db").touch()
    (home / "serving.db").touch()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert result.exit_code == code, result.output
    assert result.output.count("error:") == 1 and says in result.output
    assert "Traceback" not in result.output and "pw-9x" not in result.output


def test_a_file_given_as_home_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", "20")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--home", str(tmp_path / "afile")])
    assert result.exit_code == EX_USAGE, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: cannot use") and "--home" in last


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TUNELAKE_MAX_RETRIES": "abc"}, "max_retries"),
        ({"TUNELAKE_PROFILE": "nope"}, "profile 'nope' is not defined"),
    ],
)
def test_a_bad_setting_is_one_line_without_the_environment_s_secrets(tmp_path, env, says):
    # A fresh process: logging is not configured yet when the settings are read, and
    # structlog's own default would print the traceback with its local variables.
    planted = "planted-secret-5d1e"
    done = subprocess.run(
        [sys.executable, "-m", "tunelake", "runs", "--home", str(tmp_path / "data")],
        env={**os.environ, "TUNELAKE_SPOTIFY_CLIENT_SECRET": planted, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EX_USAGE, done.stderr
    assert done.stderr.startswith("error: ") and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert planted not in done.stderr + done.stdout


def _can_mount_read_only() -> bool:
    """Root with a mount namespace of its own: the only way to make a folder read-only for
    root (it ignores permission bits)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and unshare -m")
def test_reads_work_on_a_read_only_data_directory(ran, home):
    # A WAL database cannot be opened where SQLite may not create its -shm file.
    tunelake = f"{shlex.quote(sys.executable)} -m tunelake"
    at = shlex.quote(str(home))
    script = " && ".join(
        [
            f"mount --bind {at} {at}",
            f"mount -o remount,ro,bind {at}",
            f"{tunelake} runs --home {at}",
            f"{tunelake} sql 'SELECT name FROM artists ORDER BY artist_id LIMIT 1' "
            f"--format csv --home {at}",
            f"{tunelake} similar \"$({tunelake} sql 'SELECT name FROM artists ORDER BY "
            f"artist_id LIMIT 1' --format json --home {at} | {shlex.quote(sys.executable)} "
            f'-c \'import json,sys; print(json.load(sys.stdin)[0]["name"])\')" --home {at}',
        ]
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert " ok " in done.stdout and "like" in done.stdout, done.stdout
    assert "error" not in done.stderr
