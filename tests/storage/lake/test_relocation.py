"""A lake folder moved (`mv`) or copied (`cp -a`) keeps working, each copy reading and writing
its own files; a lake never writes or deletes outside its own root."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tests.storage.lake.test_contract import DT, top_tracks
from tunelake.storage.lake import IcebergLake, LakeOptions, open_lake
from tunelake.storage.lake.rooted import (
    NAMESPACE,
    ROOT,
    LakeLocationError,
    RootedFileIO,
    reroot,
)

NEXT = DT + timedelta(days=1)
LATER = DT + timedelta(days=2)


def written(root: Path) -> IcebergLake:
    lake = open_lake(str(root))
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    lake.quarantine("top_tracks", DT, top_tracks(2, rows=2).append_column("reason", [["x"] * 2]))
    return lake


def files_under(lake: IcebergLake, root: Path) -> None:
    for urls in lake.files("top_tracks").values():
        for url in urls:
            assert url.startswith(f"{root}/"), url
            assert Path(url).is_file(), url


def vacuum_all(lake: IcebergLake) -> None:
    lake.vacuum(timedelta(0), orphan_grace=timedelta(0))


def test_a_moved_lake_reads_writes_and_lists_its_files_where_it_now_is(tmp_path: Path) -> None:
    written(tmp_path / "a")
    (tmp_path / "a").rename(tmp_path / "b")
    lake = open_lake(str(tmp_path / "b"))
    assert lake.read_partition("top_tracks", DT).num_rows == 7  # type: ignore[union-attr]
    lake.write_partition("top_tracks", NEXT, top_tracks(3, rows=4))
    assert lake.partitions("top_tracks") == [DT, NEXT]
    assert lake.read_quarantine("top_tracks", DT).num_rows == 2  # type: ignore[union-attr]
    files_under(lake, tmp_path / "b")
    vacuum_all(lake)
    assert lake.read_dataset("top_tracks").num_rows == 11
    assert not (tmp_path / "a").exists()  # nothing was written at the old root


def test_a_copy_writes_its_own_files_and_vacuum_on_either_keeps_both_whole(
    tmp_path: Path,
) -> None:
    written(tmp_path / "orig")
    shutil.copytree(tmp_path / "orig", tmp_path / "copy", symlinks=True)
    orig, copy = open_lake(str(tmp_path / "orig")), open_lake(str(tmp_path / "copy"))
    copy.write_partition("top_tracks", NEXT, top_tracks(4, rows=3))
    orig.write_partition("top_tracks", LATER, top_tracks(5, rows=5))
    files_under(copy, tmp_path / "copy")
    files_under(orig, tmp_path / "orig")
    for lake in (orig, copy, orig):
        vacuum_all(lake)
    orig, copy = open_lake(str(tmp_path / "orig")), open_lake(str(tmp_path / "copy"))
    assert orig.partitions("top_tracks") == [DT, LATER]
    assert copy.partitions("top_tracks") == [DT, NEXT]
    for lake, rows in ((orig, 12), (copy, 10)):
        for name in lake.tables():
            assert lake.load(name) is not None
        assert lake.read_dataset("top_tracks").num_rows == rows
        assert lake.read_quarantine("top_tracks", DT).num_rows == 2  # type: ignore[union-attr]


def test_vacuum_refuses_a_table_whose_files_are_not_the_lakes(tmp_path: Path) -> None:
    other = open_lake(str(tmp_path / "other"), LakeOptions(namespace="elsewhere"))
    other.write_partition("top_tracks", DT, top_tracks(1))
    table = other.load("top_tracks")
    assert table is not None
    lake = written(tmp_path / "lake")
    lake.catalog.register_table((lake.namespace, "foreign"), table.metadata_location)
    with pytest.raises(LakeLocationError, match=f"{tmp_path}/other/elsewhere/top_tracks"):
        lake.vacuum(timedelta(0), orphan_grace=timedelta(0))
    assert other.read_partition("top_tracks", DT).num_rows == 5  # type: ignore[union-attr]


def test_the_file_io_re_roots_and_refuses_writes_and_deletes_outside_the_root(
    tmp_path: Path,
) -> None:
    root = f"file://{tmp_path}/new"
    recorded = "file:///old/home/lake/tunelake/t/data/dt=2026-11-26/f.parquet"
    assert reroot(recorded, root, "tunelake") == f"{root}/tunelake/t/data/dt=2026-11-26/f.parquet"
    assert reroot("file:///old/tunelake/t", root, "tunelake") == f"{root}/tunelake/t"
    assert reroot("s3://b/tunelake/t/data/f", root, "tunelake") == "s3://b/tunelake/t/data/f"
    io = RootedFileIO({ROOT: root, NAMESPACE: "tunelake"})
    for outside in (f"{tmp_path}/stray.txt", "file:///etc/x/tunelake-no"):
        with pytest.raises(LakeLocationError, match="outside the lake"):
            io.new_output(outside)
        with pytest.raises(LakeLocationError, match="outside the lake"):
            io.delete(outside)
    with io.new_output(recorded).create() as f:
        f.write(b"x")
    assert (tmp_path / "new/tunelake/t/data/dt=2026-11-26/f.parquet").read_bytes() == b"x"
