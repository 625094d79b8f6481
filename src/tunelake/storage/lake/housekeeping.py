"""Keeping the lake's Iceberg tables from growing without bound, and describing them.

`vacuum` expires the snapshots older than the retention (a table's current snapshot is always
kept) and then deletes the table's orphan files: data, manifest and metadata files that no
remaining snapshot or metadata version references. pyiceberg expires snapshots in metadata
only, and has no orphan-file removal of its own; this is that step. A file younger than the
grace is never deleted: it may belong to a write still in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table

from tunelake.storage.lake.commits import retry_races

if TYPE_CHECKING:
    from tunelake.storage.lake.iceberg_lake import IcebergLake

ORPHAN_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class TableInfo:
    name: str
    snapshots: int
    snapshot_id: int | None
    committed_at: datetime | None
    rows: int
    files: int
    bytes: int


@dataclass(frozen=True)
class Vacuumed:
    table: str
    expired_snapshots: int
    removed_files: int
    removed_bytes: int


def info(lake: IcebergLake) -> list[TableInfo]:
    """Every table: its snapshots, and the rows, data files and bytes of the current one."""
    found = []
    for name in lake.tables():
        table = lake.load(name)
        if table is None:  # dropped meanwhile
            continue
        current = table.current_snapshot()
        summary = current.summary if current and current.summary else None

        def total(key: str, summary: Any = summary) -> int:
            return int(summary.get(key, 0)) if summary else 0

        found.append(
            TableInfo(
                name,
                len(table.snapshots()),
                current.snapshot_id if current else None,
                _time(current.timestamp_ms) if current else None,
                total("total-records"),
                total("total-data-files"),
                total("total-files-size"),
            )
        )
    return found


def vacuum(
    lake: IcebergLake,
    retention: timedelta,
    *,
    orphan_grace: timedelta = ORPHAN_GRACE,
    now: datetime | None = None,
) -> list[Vacuumed]:
    now = now or datetime.now(UTC)
    done = []
    for name in lake.tables():
        if lake.load(name) is None:
            continue
        expired = retry_races(name, partial(_expire, lake, name, now - retention))
        table = lake.load(name)
        assert table is not None
        removed, size = _remove_orphans(lake, table, now - orphan_grace)
        done.append(Vacuumed(name, expired, removed, size))
    return done


def _expire(lake: IcebergLake, name: str, cutoff: datetime) -> int:
    table = lake.load(name)
    assert table is not None
    current = table.current_snapshot()
    old = [
        s.snapshot_id
        for s in table.snapshots()
        if _time(s.timestamp_ms) < cutoff
        and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def _remove_orphans(lake: IcebergLake, table: Table, older_than: datetime) -> tuple[int, int]:
    fs = lake.store.fs
    keep = {table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)}
    for snapshot in table.snapshots():
        keep.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            keep.add(manifest.manifest_path)
            keep.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io))
    keep_paths = {lake.store.path_of(p) for p in keep}
    removed, size = 0, 0
    folder = lake.store.path_of(table.location())
    # A table whose folder is not the lake's own (registered from elsewhere) is not vacuumed:
    # its files may be another lake's, live data of a copy or of the original.
    lake.store.check_owns(folder, "vacuum")
    try:
        listed = fs.find(folder, detail=True)
    except FileNotFoundError:
        return 0, 0
    orphans = [
        (path, entry)
        for path, entry in listed.items()
        if path not in keep_paths and _modified(entry) < older_than
    ]
    for path, entry in orphans:
        lake.store.check_owns(path, "delete")
        fs.rm_file(path)
        removed += 1
        size += int(entry.get("size") or 0)
    return removed, size


def _modified(entry: dict[str, Any]) -> datetime:
    stamp = entry.get("LastModified") or entry.get("mtime")
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(stamp or 0), UTC)


def _time(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
