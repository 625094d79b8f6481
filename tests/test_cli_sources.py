"""What a user sees from `tunelake run` when a dump or a seeds file cannot be used: one error
line naming the file and the fix, a failing exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunelake.cli import app

DT = "2026-11-26"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", "40")
    return tmp_path / "data"


def _run(home: Path, *args: str):
    return CliRunner().invoke(app, ["run", "--home", str(home), "--dt", DT, *args])


def _one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def test_a_directory_as_a_dump(home, tmp_path):
    line = _one_line_error(_run(home, "--source", f"file:{tmp_path}"))
    assert "is not a regular file (a directory)" in line


def test_a_non_utf8_dump_names_the_line(home, tmp_path):
    dump = tmp_path / "tracks.csv"
    dump.write_bytes(b"track_id,track_name,artist_id,artist_name\nt1,Bj\xf6rk,a1,A\n")
    line = _one_line_error(_run(home, "--source", f"file:{dump}"))
    assert "tracks.csv is not UTF-8 text (line 2)" in line


def test_a_header_only_dump(home, tmp_path):
    dump = tmp_path / "tracks.csv"
    dump.write_text("track_id,track_name,artist_id,artist_name\n")
    assert "has a header but no rows" in _one_line_error(_run(home, "--source", f"file:{dump}"))


def test_an_empty_seeds_file_does_not_ingest_the_default_artists(home, tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# nobody yet\n")
    line = _one_line_error(_run(home, "--seeds", str(seeds)))
    assert "seeds.txt names no artist" in line
    assert not (home / "warehouse.db").exists()


def test_a_delimiter_given_on_the_command_line(home, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELAKE_VECTOR_FEATURES", '["danceability","energy"]')  # the dump's
    dump = tmp_path / "tracks.txt"
    header = "id|name|artists|artist_ids|danceability|energy"
    rows = [f"t{i:03d}|Song {i}|Artist {i % 3}|a{i % 3}|0.{i % 9}|0.5" for i in range(12)]
    dump.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    ok = _run(home, "--source", f"file:{dump}", "--delimiter", "|")
    assert ok.exit_code == 0, ok.output
    forced = _run(home, "--source", f"file:{dump}", "--delimiter", ",")  # used, not sniffed
    assert "','" in _one_line_error(forced)
    wrong = _run(home, "--source", f"file:{dump}", "--delimiter", "ab")
    assert "must be one character" in _one_line_error(wrong)
