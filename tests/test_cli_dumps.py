"""What `tunelake run` says about a dump that loses data on the way: one line, an exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.pipeline.test_dump_source import _dump_rows, _write_csv
from tunelake.cli import app

DT = "2026-11-26"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _run(home: Path, dump: Path, *args: str):
    return CliRunner().invoke(
        app, ["run", "--home", str(home), "--dt", DT, "--source", f"file:{dump}", *args]
    )


def _one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def test_no_vector_at_all_fails_naming_the_features_and_the_setting(home, tmp_path):
    rows = [{k: v for k, v in r.items() if k != "loudness"} for r in _dump_rows()]
    result = _run(home, _write_csv(tmp_path / "tracks.csv", rows))
    line = _one_line_error(result)
    assert result.exit_code == 2
    assert "no artist got a vector" in line and "loudness (12 artists)" in line
    assert "TUNELAKE_VECTOR_FEATURES" in line


def test_some_artists_without_a_vector_are_counted_on_the_summary(home, tmp_path):
    rows = _dump_rows()
    for row in rows:
        if row["artist_ids"] == "art003":
            row["tempo"] = ""
    result = _run(home, _write_csv(tmp_path / "tracks.csv", rows))
    assert result.exit_code == 0, result.output
    assert "warning: 1 of 12 artists have no vector" in result.output
    assert "tempo (1 artist)" in result.output


def test_one_dump_column_mapped_to_two_columns_is_one_line(home, tmp_path):
    dump = _write_csv(tmp_path / "tracks.csv", _dump_rows(2, 2))
    result = _run(home, dump, "--map", "artists=artist_name", "--map", "artists=track_name")
    line = _one_line_error(result)
    assert result.exit_code == 2
    assert "maps the dump column 'artists' to both artist_name and track_name" in line


def test_a_dump_with_two_artist_id_columns_is_one_line(home, tmp_path):
    dump = tmp_path / "tracks.csv"
    dump.write_text("id,name,artist_id,artists,artist_id\nt1,S,a1,A,a2\n", encoding="utf-8")
    line = _one_line_error(_run(home, dump))
    assert "two columns named 'artist_id' (columns 3 and 5)" in line
