"""What a user gives `tunelake` to read, as a user gives it: a FIFO, a directory or a symlink
loop instead of a file, a huge or blank artist name, seeds that match nothing, a dt in the
future, and Ctrl-C in the middle of a run. Each is one line and its exit code, at once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.processes import tunelake
from tunelake.errors import EX_INTERRUPTED, EX_USAGE
from tunelake.names import MAX_QUERY_LENGTH

pytestmark = pytest.mark.timeout(300)


def refused(home: Path, *args: str) -> tuple[int, str]:
    """The exit code and the one line on stderr of a command that must stop at once (a
    FIFO read would block: the timeout fails the test instead of hanging it)."""
    process = tunelake(home, *args)
    stdout, stderr = process.communicate(timeout=60)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert stdout == ""
    return process.returncode, lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("run", "--seeds", "{}"), "seeds file"),
        (("sql", "--file", "{}"), "SQL file"),
        (("run", "--source", "file:{}"), "dataset dump"),
        (("evaluate", "--plays", "{}"), "plays file"),
    ],
)
def test_a_fifo_is_refused_at_once(home: Path, fifo: Path, args: tuple[str, ...], what: str):
    code, line = refused(home, *(a.format(fifo) for a in args))
    assert code == EX_USAGE
    assert line.startswith(f"error: {what} {fifo} is not a regular file (a FIFO): ")


def test_a_symlink_loop_is_named_as_one(home: Path, tmp_path: Path):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "back")
    (tmp_path / "back").symlink_to(loop)
    code, line = refused(home, "sql", "--file", str(loop))
    assert code == EX_USAGE
    assert line.startswith(f"error: SQL file {loop} is not a regular file (a symlink loop)")


def test_a_fifo_as_the_secrets_file(home: Path, fifo: Path):
    process = tunelake(home, "runs", env={**os.environ, "TUNELAKE_SECRETS_FILE": str(fifo)})
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == EX_USAGE
    assert stderr.startswith(f"error: TUNELAKE_SECRETS_FILE {fifo} is not a regular file (a FIFO)")


def test_a_huge_line_in_the_seeds_names_the_file_and_line(home: Path, tmp_path: Path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Sigur Rós\n" + "a" * 5_000_000 + "\n")
    code, line = refused(home, "run", "--seeds", str(seeds))
    assert code == EX_USAGE
    assert line.startswith(f"error: seeds file {seeds}, line 2: a name of 5,000,000 characters")
    assert f"at most {MAX_QUERY_LENGTH}" in line


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_artist_is_a_usage_error(home: Path, blank: str):
    assert refused(home, "run", "--artist", blank) == (
        EX_USAGE,
        "error: --artist is blank: give a name or an id",
    )


def test_a_huge_artist_is_not_queued(home: Path):
    code, line = refused(home, "ingest", "--queue", "--artist", "b" * 100_000)
    assert code == EX_USAGE
    assert line == (
        f"error: --artist is 100,000 characters long: at most {MAX_QUERY_LENGTH} "
        "(no artist's name is longer)"
    )


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("run", "--dt", "9999-12-31"), "dt"),
        (("ingest", "--dt", "9999-12-31", "--artist", "Björk"), "dt"),
        (("backfill", "--from", "2026-01-01", "--to", "9999-12-31"), "backfill end"),
    ],
)
def test_a_dt_in_the_future_is_refused(home: Path, args: tuple[str, ...], what: str):
    code, line = refused(home, *args)
    assert code == EX_USAGE
    assert line.startswith(f"error: {what} 9999-12-31 is in the future (today is 20")
    # refused before anything was written: not even the ingest request
    assert not (home / "warehouse.db").exists()


def test_seeds_that_match_nothing_fail_the_run(home: Path, tmp_path: Path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("No Such Artist Xyzzy\nNor This One Qwerty\n")
    process = tunelake(home, "run", "--seeds", str(seeds), "--catalog-artists", "20")
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stderr
    assert stdout == "" and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert "failed at step discover: NotFound: no seed matched: no artist found for " in last
    assert "'No Such Artist Xyzzy', 'Nor This One Qwerty' (2 not found, 0 ambiguous)" in last


def _log_events(home: Path) -> list[dict[str, object]]:
    log = home / "logs" / "tunelake.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.slow
def test_ctrl_c_stops_a_run_which_is_recorded_as_interrupted(home: Path):
    # a slow catalog (each response 1 s late) keeps the run in its land steps for a while
    env = {**os.environ, "TUNELAKE_CATALOG_LATENCY_MS": "1000"}
    args = ("run", "--dt", "2026-11-20", "--catalog-artists", "40")
    # in its own process group, as a shell runs a command: Ctrl-C reaches the whole group,
    # the catalog server's process too
    process = tunelake(home, *args, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(e.get("event") == "step started" for e in _log_events(home)):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    time.sleep(1)
    assert process.poll() is None, process.communicate()
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == EX_INTERRUPTED, stderr
    assert "Traceback" not in stderr and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("error: run ") and " interrupted (Ctrl-C) at step " in errors[0]

    runs = tunelake(home, "runs", env={**os.environ, "COLUMNS": "250"})
    listed, problems = runs.communicate(timeout=60)
    assert runs.returncode == 0, problems
    (row,) = [line for line in listed.splitlines() if "2026-11-20" in line]
    assert "│ interrupted │" in row and "interrupted (Ctrl-C) at step " in row

    again = tunelake(home, *args)  # no latency: the dt is not locked, the run completes
    _, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr
