"""The tables of the CLI as a pipe or a file gets them (every value in full) and as csv and
json (`--format`), on a data directory after one small run; each command a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from tunelake.errors import EX_USAGE

pytestmark = pytest.mark.timeout(300)

DT = "2026-11-26"
# what would make rich take stdout for a terminal, or fix its width, in the caller's environment
_TERMINAL_HINTS = ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "NO_COLOR")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tunelake(
    home: Path, *args: str, code: int = 0, terminal: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`tunelake ARGS --home HOME` with stdout a pipe or, given a width, a terminal that wide
    (TTY_COMPATIBLE: rich's switch for a terminal it cannot detect)."""
    env = {k: v for k, v in os.environ.items() if k not in _TERMINAL_HINTS}
    env.update(TUNELAKE_CATALOG_ARTISTS="40")
    if terminal is not None:
        env.update(TTY_COMPATIBLE="1", COLUMNS=str(terminal))
    for name in ("TUNELAKE_HOME", "TUNELAKE_PROFILE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "tunelake", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=home.parent,  # no tunelake.toml: the embedded defaults
        env=env,
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("format") / "data"
    tunelake(home, "run", "--dt", DT)
    return home


def as_json(home: Path, *args: str) -> list[dict[str, Any]]:
    rows = json.loads(tunelake(home, *args, "--format", "json").stdout)
    assert isinstance(rows, list)
    return rows


def _as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_a_piped_table_holds_run_ids_and_table_names_in_full(home: Path) -> None:
    [run] = as_json(home, "runs")
    runs = tunelake(home, "runs").stdout
    assert run["run_id"] in runs and run["started_at"][:10] in runs
    info = tunelake(home, "lake", "info").stdout
    for table in as_json(home, "lake", "info"):
        assert table["table"] in info and str(table["current snapshot"]) in info
    steps = tunelake(home, "runs", run["run_id"]).stdout
    assert f"run {run['run_id']} · dt {DT} · ok" in steps
    for out in (runs, info, steps):
        assert "…" not in out  # nothing cut at 80 columns
    assert max(cell_len(line) for line in runs.splitlines()) > 80


def test_json_numbers_stay_numbers_and_none_is_null(home: Path) -> None:
    [run] = as_json(home, "runs")
    assert isinstance(run["seconds"], float) and run["quarantined"] == 0
    assert run["error"] is None and run["dt"] == DT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", run["started_at"])
    steps = as_json(home, "runs", run["run_id"])
    assert [s["step"] for s in steps][:2] == ["discover", "extract"]
    assert all(isinstance(s["in"], int) for s in steps)


@pytest.fixture(scope="module")
def known(home: Path) -> dict[str, str]:
    """The run's id and an artist's name, for the commands that take one."""
    query = "SELECT name FROM artists ORDER BY artist_id LIMIT 1"
    return {
        "RUN_ID": as_json(home, "runs")[0]["run_id"],
        "NAME": as_json(home, "sql", query)[0]["name"],
    }


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "RUN_ID"],
        ["lake", "info"],
        ["similar", "NAME"],
        ["sql", "SELECT dt, COUNT(*) AS n, MIN(name) AS first FROM artists GROUP BY dt"],
        ["doctor"],
        ["services", "status"],
    ],
)
def test_csv_holds_the_same_rows_as_json(
    home: Path, known: dict[str, str], command: list[str]
) -> None:
    args = [known.get(a, a) for a in command]
    rows = as_json(home, *args)
    assert rows
    text = tunelake(home, *args, "--format", "csv").stdout
    from_csv = list(csv.DictReader(io.StringIO(text)))
    assert from_csv == [{k: _as_csv_text(v) for k, v in row.items()} for row in rows]


def test_on_a_terminal_the_table_is_rich_s_as_before(home: Path) -> None:
    piped = tunelake(home, "lake", "info").stdout
    wide = _ANSI.sub("", tunelake(home, "lake", "info", terminal=250).stdout)
    assert wide == piped  # a terminal wide enough shows the same table
    narrow = _ANSI.sub("", tunelake(home, "runs", terminal=60).stdout)
    lines = narrow.splitlines()
    assert max(cell_len(line) for line in lines) <= 60 and "…" in narrow  # fitted to it


def test_an_unknown_format_is_one_line(home: Path) -> None:
    done = tunelake(home, "lake", "info", "--format", "xml", code=EX_USAGE)
    assert done.stderr == "error: --format 'xml' is not one of table, csv, json\n"
    assert done.stdout == ""


def test_a_piped_table_wider_than_80_columns_and_its_title_stay_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # in process: the renderer itself, with a title wider than the rows (rich wraps a title
    # to its table's width)
    from tunelake.cli.common import Column, Rows, show

    title = "a title " * 15
    show("table", Rows([Column("id"), Column("n", right=True)], [("x" * 100, 1)], title=title))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == title.strip() and "x" * 100 in lines[4]
