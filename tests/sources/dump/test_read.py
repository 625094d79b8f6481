"""Reading dump files as they are, and the one-line errors of files that cannot be read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.dump.support import dump_error
from tunelake.sources.dump.read import DumpError, DumpSpec, read_file, sniff_delimiter

HEADER = ["track_id", "track_name", "artist_id", "artist_name", "tempo"]
ROWS = [["t1", "Song, one", "a1", "Ann", "120.5"], ["t2", "Two", "a1", "Ann", "abc"]]


def _write(path: Path, delimiter: str, rows: list[list[str]] = ROWS) -> Path:
    lines = [delimiter.join(HEADER)]
    for row in rows:
        lines.append(delimiter.join(f'"{v}"' if delimiter in v else v for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, delimiter):
    dump = read_file(DumpSpec(_write(tmp_path / "tracks.csv", delimiter)))
    assert dump.delimiter == delimiter
    assert dump.table.column_names == HEADER
    # values stay text as read: a bad value is judged later, row by row
    assert dump.table.column("tempo").to_pylist() == ["120.5", "abc"]
    assert dump.table.column("track_name").to_pylist() == ["Song, one", "Two"]


def test_a_given_delimiter_wins_and_is_named_when_lines_do_not_fit(tmp_path):
    path = _write(tmp_path / "tracks.csv", "\t")
    with path.open("a") as f:
        f.write("t3\tx\ty\ta1\tAnn\t1\n")  # one field too many
    with pytest.raises(DumpError) as info:
        read_file(DumpSpec(path, delimiter="\t"))
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "delimiter tab" in message
    assert "\t" not in message


def test_ids_keep_their_leading_zeros(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("track_id,artist_id\n0012,007\n")
    assert read_file(DumpSpec(path)).table.to_pylist() == [{"track_id": "0012", "artist_id": "007"}]


def test_the_version_is_the_content_hash(tmp_path):
    path = _write(tmp_path / "tracks.csv", ",")
    assert read_file(DumpSpec(path)).version == hashlib.sha256(path.read_bytes()).hexdigest()


def test_parquet_is_read_by_its_content_whatever_its_name(tmp_path):
    path = tmp_path / "tracks.data"
    pq.write_table(pa.table({"track_id": ["t1"], "tempo": ["fast"]}), path)
    dump = read_file(DumpSpec(path))
    assert dump.delimiter is None and dump.table.to_pylist() == [
        {"track_id": "t1", "tempo": "fast"}
    ]


def test_sniffing_falls_back_to_a_comma():
    assert sniff_delimiter("track_id\nt1\n") == ","
    # a semicolon inside values is not the delimiter of a comma-separated file
    assert sniff_delimiter("id,genres\nt1,pop;rock\nt2,jazz\nt3,a;b;c\n") == ","


def test_a_non_utf8_csv_names_the_file_the_line_and_the_fix(tmp_path):
    message = dump_error(tmp_path / "latin.csv", b"track_id,track_name\nt1,ok\nt2,Bj\xf6rk\n")
    assert "line 3" in message and "UTF-8" in message and "iconv" in message


def test_garbage_never_reaches_the_message(tmp_path):
    dump_error(tmp_path / "garbage.csv", b"a,b\n1,2\n\x1b[31mred\x07,x,\x1b]0;title\x07\n")


def test_a_damaged_parquet_file_is_one_clear_error(tmp_path):
    message = dump_error(tmp_path / "t.parquet", b"PAR1" + b"\x00\x1b" * 40)
    assert "as Parquet" in message and "export it as CSV" in message


def test_a_header_only_dump_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(",".join(HEADER) + "\n")
    with pytest.raises(DumpError, match=r"empty\.csv has a header but no rows"):
        read_file(DumpSpec(path))


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "nothing.csv"
    path.write_text("")
    with pytest.raises(DumpError, match=r"nothing\.csv is empty"):
        read_file(DumpSpec(path))


def test_a_directory_is_not_reported_as_missing(tmp_path):
    with pytest.raises(
        DumpError, match=r"is not a regular file \(a directory\): give a file inside it"
    ):
        DumpSpec.parse(f"file:{tmp_path}")
    with pytest.raises(DumpError, match=r"does not exist"):
        DumpSpec.parse(f"file:{tmp_path / 'absent.csv'}")
