"""`tunelake lake info|vacuum` and `tunelake sql --as-of` (the lake part of the CLI)."""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tests.storage.lake.test_contract import DT, top_tracks
from tunelake.cli import app
from tunelake.config import Settings
from tunelake.pipeline import resources
from tunelake.storage.lake import IcebergLake


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no tunelake.toml: the embedded defaults
    for name in ("TUNELAKE_HOME", "TUNELAKE_PROFILE", "TUNELAKE_LAKE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def lake_of(home: Path) -> IcebergLake:
    return resources.lake_of(Settings(home=home))


def cli(home: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    return result.output


def test_sql_as_of_a_time_sees_the_rows_before_a_backfill(home: Path) -> None:
    lake = lake_of(home)
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    time.sleep(0.01)
    before = datetime.now().isoformat()  # local time, as a user types it
    time.sleep(0.01)
    lake.write_partition("top_tracks", DT, top_tracks(2, rows=3))
    count = "SELECT count(*) AS n FROM top_tracks"
    assert cli(home, "sql", count, "--format", "csv").split() == ["n", "3"]
    assert cli(home, "sql", count, "--format", "csv", "--as-of", before).split() == ["n", "7"]


def test_sql_as_of_before_every_snapshot_names_the_oldest(home: Path) -> None:
    lake = lake_of(home)
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    oldest = lake.oldest_snapshot_time()
    assert oldest is not None
    done = CliRunner().invoke(
        app,
        ["sql", "SELECT count(*) FROM top_tracks", "--as-of", "1970-01-01", "--home", str(home)],
    )
    assert done.exit_code == 2, done.output
    assert done.output.startswith("error: --as-of 1970-01-01T00:00:00"), done.output
    assert "the lake has no snapshot at or before that time; its oldest snapshot is from " + (
        oldest.astimezone().isoformat(timespec="seconds")
    ) in " ".join(done.output.split())


def test_lake_info_and_vacuum(home: Path) -> None:
    lake = lake_of(home)
    for seed in range(3):
        lake.write_partition("top_tracks", DT, top_tracks(seed))
    info = cli(home, "lake", "info")
    assert "top_tracks" in info and " 5 " in info  # rows of the current snapshot
    vacuumed = cli(home, "lake", "vacuum", "--retention-days", "0")
    assert "top_tracks: 4 snapshots expired" in vacuumed
    [table] = lake_of(home).info()
    assert (table.snapshots, table.rows) == (1, 5)


def _run(home: Path, dt: str) -> None:
    cli(home, "run", "--dt", dt)


def _tracks_by_dt(home: Path) -> list[str]:
    query = "SELECT dt, count(*) AS n FROM tracks GROUP BY dt ORDER BY dt"
    return cli(home, "sql", query, "--format", "csv").split()[1:]


@pytest.mark.slow
def test_a_moved_then_copied_home_runs_and_vacuums_on_its_own_lake(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", "20")
    _run(home, "2026-11-26")
    moved, copy = home.with_name("moved"), home.with_name("copy")
    home.rename(moved)
    [first] = _tracks_by_dt(moved)
    assert first.startswith("2026-11-26,")
    _run(moved, "2026-11-27")
    shutil.copytree(moved, copy, symlinks=True)  # cp -a
    _run(copy, "2026-11-28")
    _run(moved, "2026-11-29")
    for where in (moved, copy, moved):
        assert "error" not in cli(where, "lake", "vacuum", "--retention-days", "0")
    assert [r.split(",")[0] for r in _tracks_by_dt(moved)] == [
        "2026-11-26",
        "2026-11-27",
        "2026-11-29",
    ]
    assert [r.split(",")[0] for r in _tracks_by_dt(copy)] == [
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
    ]
    for where in (moved, copy):
        for table in lake_of(where).tables():
            cli(where, "sql", f"SELECT count(*) FROM {table}")
    assert not home.exists()


# repair (issue 16.11) -------------------------------------------------------------------------

COUNT = "SELECT count(*) AS n FROM top_tracks"


def _refused(home: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())  # rich wraps long lines


def test_a_deleted_current_metadata_file_is_named_then_repaired(home: Path) -> None:
    lake = lake_of(home)
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    lake.write_partition("top_tracks", DT, top_tracks(2, rows=3))
    current = lake.load("top_tracks")
    assert current is not None
    Path(current.metadata_location.removeprefix("file://")).unlink()

    said = _refused(home, "sql", COUNT, "--format", "csv")
    assert "top_tracks" in said and "run `tunelake lake repair`" in said
    assert "top_tracks: now at" in cli(home, "lake", "repair")
    # the newest readable metadata is the one before the deleted one: the first write's rows
    assert cli(home, "sql", COUNT, "--format", "csv").split() == ["n", "7"]
    lake_of(home).write_partition("top_tracks", DT, top_tracks(3, rows=4))  # the dt again
    assert cli(home, "sql", COUNT, "--format", "csv").split() == ["n", "4"]
    assert "0 tables repaired" in cli(home, "lake", "repair")  # nothing left to do


def test_a_corrupt_catalog_is_kept_aside_and_the_tables_re_registered(home: Path) -> None:
    lake = lake_of(home)
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    lake.quarantine(
        "top_tracks", DT, top_tracks(2, rows=2).append_column("reason", pa.array(["x"] * 2))
    )
    catalog = home / "lake" / "catalog.db"
    assert catalog.is_file(), sorted(p.name for p in (home / "lake").iterdir())
    catalog.write_bytes(b"this is not a database" * 100)

    said = _refused(home, "sql", COUNT, "--format", "csv")
    assert "catalog" in said and "run `tunelake lake repair`" in said
    assert "check that its server runs" not in said
    repaired = cli(home, "lake", "repair")
    assert "2 tables repaired" in repaired and "damaged catalog kept as" in repaired
    assert [p for p in catalog.parent.iterdir() if p.name.startswith("catalog.db.damaged-")]
    assert cli(home, "sql", COUNT, "--format", "csv").split() == ["n", "7"]
    lake_of(home).write_partition("top_tracks", DT, top_tracks(3, rows=4))  # the dt again
    assert cli(home, "sql", COUNT, "--format", "csv").split() == ["n", "4"]
