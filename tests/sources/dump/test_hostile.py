"""Hostile dumps: each says what is wrong in one line, or its bad rows are quarantined."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.dump.support import dump_error
from tunelake.sources.dump import DumpError, DumpSpec, read_dump

HEADER = b"track_id,track_name,artist_id,artist_name\n"
ROWS = b"t1,Song,a1,Ann\nt2,Other,a2,Bob\n"


def _parquet(path: Path, **columns: pa.Array) -> Path:
    base = {
        "track_id": pa.array(["t1", "t2"]),
        "track_name": pa.array(["Song", "Other"]),
        "artist_id": pa.array(["a1", "a2"]),
        "artist_name": pa.array(["Ann", "Bob"]),
    }
    pq.write_table(pa.table({**base, **columns}), path)
    return path


def test_two_columns_of_one_name_are_named_not_a_key_error(tmp_path):
    message = dump_error(
        tmp_path / "tracks.csv",
        b"track_id,track_name,artist_id,artist_name,artist_id\nt1,Song,a1,Ann,a9\n",
    )
    assert "two columns named 'artist_id' (columns 3 and 5)" in message


def test_a_struct_id_is_refused_not_stored_as_its_repr(tmp_path):
    path = _parquet(tmp_path / "tracks.parquet", artist_id=pa.array([{"x": "a1"}, {"x": "a2"}]))
    with pytest.raises(DumpError) as info:
        read_dump(DumpSpec(path))
    assert "column 'artist_id' (for artist_id) is of type struct<x: string>" in str(info.value)


def test_a_binary_name_that_is_utf8_is_read_as_text(tmp_path):
    names = pa.array([b"Ann", "Bj\u00f6rk".encode()], pa.binary())
    dump, _ = read_dump(DumpSpec(_parquet(tmp_path / "tracks.parquet", artist_name=names)))
    assert dump.table["artist_name"].to_pylist() == ["Ann", "Bj\u00f6rk"]


def test_a_binary_name_that_is_not_text_is_refused(tmp_path):
    names = pa.array([b"Ann", b"\xff\xfe"], pa.binary())
    with pytest.raises(DumpError, match=r"'artist_name' \(for artist_name\) holds binary"):
        read_dump(DumpSpec(_parquet(tmp_path / "tracks.parquet", artist_name=names)))
    # an unused binary column (cover art) is no reason to refuse the dump
    blob = pa.array([b"\x89PNG", b"\xff\xd8"], pa.binary())
    dump, columns = read_dump(DumpSpec(_parquet(tmp_path / "covers.parquet", cover=blob)))
    assert "cover" in columns.ignored
    # it lands (raw records are JSON) as base64 text
    assert dump.table["cover"].to_pylist() == ["iVBORw==", "/9g="]


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (gzip.compress(HEADER + ROWS), "is a gzip-compressed file"),
        (_xlsx(), "is an Excel workbook (.xlsx)"),
        (b"SQLite format 3\x00" + bytes(100), "is an SQLite database"),
    ],
)
def test_a_binary_file_named_csv_is_told_what_it_is(tmp_path, content, what):
    message = dump_error(tmp_path / "tracks.csv", content)
    assert what in message and "iconv" not in message


def test_a_parquet_file_named_csv_is_read_as_parquet(tmp_path):
    path = _parquet(tmp_path / "tracks.parquet")
    named_csv = tmp_path / "tracks.csv"
    named_csv.write_bytes(path.read_bytes())
    dump, _ = read_dump(DumpSpec(named_csv))
    assert dump.delimiter is None and dump.table.num_rows == 2
