"""`tunelake sql` as a user calls it: the lake and nothing else, one statement, Ctrl-C."""

from __future__ import annotations

import os
import signal
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from tests.processes import tunelake
from tunelake.datasets import ARTISTS
from tunelake.errors import EX_INTERRUPTED, EX_USAGE
from tunelake.storage.lake import open_lake

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose lake has one artists partition (written as a run would)."""
    home = tmp_path_factory.mktemp("sql") / "data"
    lake = open_lake(str(home / "lake"))
    rows = [{"artist_id": f"a{i}", "name": f"Artist {i}"} for i in range(4)]
    for dt in (date(2026, 11, 25), date(2026, 11, 26)):
        lake.write_partition("artists", dt, pa.Table.from_pylist(rows, ARTISTS.schema))
    return home


def finished(home: Path, *args: str) -> tuple[int, str, str]:
    process = tunelake(home, *args)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize(
    "query",
    [
        "SELECT content FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_files_outside_the_lake_are_refused_in_one_line(home: Path, query: str) -> None:
    code, stdout, stderr = finished(home, "sql", query)
    assert code == EX_USAGE, stderr
    assert stderr.startswith("error: tunelake sql reads the lake's views only")
    assert len(stderr.strip().splitlines()) == 1 and "root:" not in stdout + stderr
    assert "PATH=" not in stdout + stderr


def test_a_pivot_answers(home: Path) -> None:
    code, stdout, stderr = finished(
        home, "sql", "PIVOT artists ON dt USING count(*) ORDER BY name", "--format", "csv"
    )
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert lines[0].split(",")[-2:] == ["2026-11-25", "2026-11-26"] and len(lines) == 5


def test_two_statements_are_refused(home: Path) -> None:
    code, _, stderr = finished(home, "sql", "SELECT 1; SELECT 2")
    assert code == EX_USAGE
    assert stderr.strip() == (
        "error: one statement at a time: the SQL holds 2 statements; run each on its own"
    )


def test_ctrl_c_interrupts_a_query_and_exits_130(home: Path) -> None:
    forever = "SELECT count(*) FROM range(1000000000000) a, range(1000000) b"
    log = home / "logs" / "tunelake.jsonl"
    log.parent.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    process = tunelake(home, "sql", forever)
    deadline = time.monotonic() + 120
    while "sql_query_started" not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    time.sleep(1)
    assert process.poll() is None, process.communicate()
    sent = time.monotonic()
    os.kill(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - sent < 15
    assert process.returncode == EX_INTERRUPTED, stderr
    assert stderr.strip() == "error: interrupted (Ctrl-C)" and stdout == ""
