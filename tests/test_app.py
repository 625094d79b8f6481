"""The use cases every entry point calls, on the embedded defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tunelake import app
from tunelake.config import Settings, load_settings
from tunelake.errors import InputError, NotFound
from tunelake.observability import RunRecorder
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import STEPS

DT = date(2026, 11, 26)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return load_settings(home=tmp_path / "home", catalog_artists=40)


@pytest.fixture
def ran(settings: Settings) -> app.RunResult:
    return app.run(settings, dt=DT)


def test_similar_finds_by_normalised_name_and_by_id(settings: Settings, ran: app.RunResult) -> None:
    assert ran.ok
    with open_resources(settings) as res:
        artist = res.warehouse.read("artists").to_pylist()[0]
    by_name = app.similar(settings, f"  {artist['name'].upper()}  ")
    assert artist["artist_id"] in {d.artist_id for d in by_name}
    doc = app.similar(settings, artist["artist_id"])[0]
    assert doc.related_artists and [r.rank for r in doc.related_artists][:3] == [1, 2, 3]
    assert app.artist(settings, artist["artist_id"]).name == artist["name"]
    with pytest.raises(NotFound, match="tunelake ingest"):
        app.similar(settings, "No Such Artist Anywhere")


def test_reads_on_a_mistyped_home_create_nothing(tmp_path: Path) -> None:
    missing = load_settings(home=tmp_path / "typo")
    for read in (
        lambda: app.similar(missing, "anyone"),
        lambda: app.recent_runs(missing),
        lambda: app.sql(missing, "SELECT 1"),
    ):
        with pytest.raises(NotFound, match="check --home"):
            read()
    assert not (tmp_path / "typo").exists()


def test_runs_are_one_record_each_with_their_steps(settings: Settings, ran: app.RunResult) -> None:
    runs = app.recent_runs(settings)
    assert [r.run_id for r in runs] == [ran.record.run_id]
    assert runs[0].status == "ok" and runs[0].kind == "run"
    detail = app.run_detail(settings, ran.record.run_id)
    assert tuple(s.step for s in detail.steps) == STEPS
    with pytest.raises(NotFound):
        app.run_detail(settings, "no-such-run")


def _killed_after(code: str, home: Path, said: str) -> None:
    """Run `code` in another Python process, which prints `said` and then SIGKILLs itself."""
    process = subprocess.run(
        [sys.executable, "-c", code, str(home)], capture_output=True, text=True
    )
    assert process.returncode == -signal.SIGKILL and said in process.stdout


def test_a_run_whose_process_died_is_abandoned(settings: Settings) -> None:
    # a process that records a run and is killed before it finishes
    code = (
        "import os, sys, datetime\n"
        "from tunelake.config import load_settings\n"
        "from tunelake.observability import RunRecorder\n"
        "from tunelake.pipeline.resources import open_resources\n"
        "s = load_settings(home=sys.argv[1])\n"
        "with open_resources(s) as res:\n"
        "    rec = RunRecorder(res.warehouse, s.runs_dir, datetime.date(2026, 11, 26), kind='run', source='catalog')\n"
        "    with rec.step('discover'):\n"
        "        print('recorded', flush=True)\n"
        "        os.kill(os.getpid(), 9)\n"
    )
    _killed_after(code, settings.home, "recorded")
    with open_resources(settings) as res:  # and one that is alive: this process
        RunRecorder(res.warehouse, settings.runs_dir, DT, kind="run", source="catalog")
    runs = {r.status: r for r in app.recent_runs(settings)}
    assert sorted(runs) == ["abandoned", "running"]
    (step,) = app.run_detail(settings, runs["abandoned"].run_id).steps
    assert (step.step, step.status) == ("discover", "abandoned")


def test_ingest_requests_are_idempotent_per_normalised_name(settings: Settings) -> None:
    first = app.request_ingest(settings, ["Sigur Rós"], source="api")
    again = app.request_ingest(settings, ["  sigur   RÓS "], source="chat")
    assert [r.request_id for r in again] == [r.request_id for r in first]
    assert first[0].status == "pending" and first[0].source == "api"
    assert app.ingest_request(settings, first[0].request_id).query == "Sigur Rós"
    with pytest.raises(NotFound):
        app.ingest_request(settings, 10_000)
    with pytest.raises(InputError):
        app.request_ingest(settings, ["  "], source="api")


def test_sql_keeps_columns_that_share_a_name(settings: Settings, ran: app.RunResult) -> None:
    result = app.sql(settings, "SELECT 1 AS x, 2 AS x, 3 AS x_1")
    assert result.columns == ["x", "x", "x_1"] and result.rows == [(1, 2, 3)]
    assert result.to_csv().splitlines() == ["x,x,x_1", "1,2,3"]
    assert json.loads(result.to_json()) == [{"x": 1, "x_1": 2, "x_1_1": 3}]
    joined = app.sql(
        settings,
        "SELECT a.name, t.name FROM artists a JOIN tracks t ON t.artist_id = a.artist_id "
        "WHERE a.name <> t.name LIMIT 1",
    )
    artist_name, track_name = joined.rows[0]
    assert artist_name != track_name
    assert list(json.loads(joined.to_json())[0].values()) == [artist_name, track_name]
    with pytest.raises(InputError, match="empty"):
        app.sql(settings, "   ")


def test_a_second_run_of_the_same_dt_is_refused_while_the_first_holds_it(
    settings: Settings,
) -> None:
    from tunelake.pipeline.lock import RunLocked, dt_lock

    held = r"being processed by run for dt 2026-11-26 \(pid \d+, since "
    with dt_lock(settings.home, DT, "run for dt 2026-11-26"), pytest.raises(RunLocked, match=held):
        app.run(settings, dt=DT)
    assert app.run(settings, dt=DT).ok  # released with the block


def test_a_lock_left_by_a_killed_run_is_taken_over(settings: Settings) -> None:
    code = (
        "import os, sys, datetime, pathlib\n"
        "from tunelake.pipeline.lock import dt_lock\n"
        "with dt_lock(pathlib.Path(sys.argv[1]), datetime.date(2026, 11, 26), 'killed run'):\n"
        "    print('locked', flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    _killed_after(code, settings.home, "locked")
    assert (settings.home / "locks" / "dt=2026-11-26.lock").is_file()
    assert app.run(settings, dt=DT).ok


def test_backfill_walks_only_the_dts_that_have_raw_data(settings: Settings) -> None:
    app.run(settings, dt=DT)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)  # the latest dt taken
    results = app.backfill(settings, start=date(1, 1, 1), end=tomorrow)
    assert [r.record.dt for r in results] == [DT]
    with pytest.raises(InputError, match="backfill end 9999-12-31 is in the future"):
        app.backfill(settings, start=date(1, 1, 1), end=date(9999, 12, 31))
    with pytest.raises(NotFound, match="nothing to backfill"):
        app.backfill(settings, start=date(2000, 1, 1), end=date(2000, 12, 31))
    with pytest.raises(InputError, match="empty"):
        app.backfill(settings, start=DT, end=date(2026, 1, 1))


def test_runs_record_the_process_that_ran_them(settings: Settings, ran: app.RunResult) -> None:
    assert ran.record.pid == os.getpid()


def test_sql_needs_only_the_lake(settings: Settings, ran: app.RunResult) -> None:
    (settings.home / "warehouse.db").write_bytes(b"not a database at all")
    (settings.home / "serving.db").write_bytes(b"nor this")
    assert app.sql(settings, "SELECT COUNT(*) AS n FROM artists").rows[0][0] > 0


def test_a_bug_in_a_step_is_named_as_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunelake.observability import StepFailed
    from tunelake.pipeline import steps

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an unexpected state")

    monkeypatch.setattr(steps, "transform", broken)
    with pytest.raises(StepFailed) as caught:
        app.run(settings, dt=DT)
    summary = app.failure_summary(caught.value)
    assert "failed at step transform: RuntimeError: an unexpected state" in summary
    assert "this is a bug in tunelake: the traceback is in" in summary
