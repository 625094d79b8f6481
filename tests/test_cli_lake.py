"""`tunelake lake info|vacuum` and `tunelake sql --as-of` (the lake part of the CLI)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

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
