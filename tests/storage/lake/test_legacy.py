"""A lake in the pre-Iceberg layout is refused until `tunelake lake migrate` rebuilds it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.storage.lake.test_contract import sample, top_tracks
from tunelake.cli import app
from tunelake.datasets import ARTISTS
from tunelake.engines.sql import SqlEngine
from tunelake.storage.lake import LakeError, open_lake

DTS = [date(2026, 11, 25), date(2026, 11, 26)]


def old_partition(folder: Path, table: pa.Table, version: str = "0123456789abcdef01234567") -> None:
    """A partition as the manifest lake wrote it: _v<id>/part-0.parquet named by _manifest.json."""
    (folder / f"_v{version}").mkdir(parents=True)
    pq.write_table(table, folder / f"_v{version}" / "part-0.parquet")
    manifest = {
        "version": version,
        "files": [f"_v{version}/part-0.parquet"],
        "rows": table.num_rows,
        "written_at": "2026-11-26T00:00:00+00:00",
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def old_lake(root: Path) -> dict[str, int]:
    for seed, dt in enumerate(DTS):
        old_partition(root / "top_tracks" / f"dt={dt}", top_tracks(seed, rows=3 + seed))
        old_partition(root / "artists" / f"dt={dt}", sample(ARTISTS.schema, seed=seed))
    # a stale version a crashed write left behind: not part of the data
    old_partition(root / "artists" / "stale", top_tracks(7))
    rejected = top_tracks(5, rows=2).append_column("reason", pa.array(["a", "b"]))
    old_partition(root / "_quarantine" / "top_tracks" / f"dt={DTS[0]}", rejected)
    (root / "raw" / "artists" / f"dt={DTS[0]}").mkdir(parents=True)
    return {"top_tracks": 7, "artists": 8, "quarantine_top_tracks": 2}


def test_an_old_lake_is_refused_then_migrated_with_equal_counts(tmp_path: Path) -> None:
    root = tmp_path / "home" / "lake"
    expected = old_lake(root)
    with pytest.raises(LakeError, match=r"pre-Iceberg layout.*tunelake lake migrate"):
        open_lake(str(root))

    result = CliRunner().invoke(app, ["lake", "migrate", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "5 partitions migrated" in result.output

    lake = open_lake(str(root))
    engine = SqlEngine(lake)
    for view, rows in expected.items():
        assert engine.query(f"SELECT count(*) FROM {view}").column(0).to_pylist() == [rows]
    assert lake.partitions("top_tracks") == DTS
    assert lake.read_partition("artists", DTS[1]) == sample(ARTISTS.schema, seed=1)
    # the old folders are gone, the raw zone stays
    assert sorted(p.name for p in root.iterdir()) == ["catalog.db", "raw", "tunelake"]


def test_a_manifest_that_disagrees_with_its_files_migrates_nothing_of_it(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    old_partition(root / "top_tracks" / f"dt={DTS[0]}", top_tracks(1))
    manifest = root / "top_tracks" / f"dt={DTS[0]}" / "_manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows": 5', '"rows": 6'))
    from tunelake.storage.lake.legacy import migrate

    with pytest.raises(LakeError, match="5 rows where its manifest says 6"):
        migrate(open_lake(str(root), allow_legacy=True))
    assert manifest.is_file()
