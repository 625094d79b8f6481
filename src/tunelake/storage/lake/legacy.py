"""Lakes in the pre-Iceberg layout (`<dataset>/dt=…/_manifest.json` naming `_v<id>/*.parquet`,
and the same under `_quarantine/`): found, refused until migrated, and rebuilt as Iceberg tables.

Migration reads each partition's current files, writes them as that dt of the dataset's table
(or its quarantine table), checks the row counts, and only then deletes the old folders; run
again after a crash, it redoes what is left (a partition overwrite is idempotent).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from tunelake.storage.lake.port import LakeError

if TYPE_CHECKING:
    from tunelake.storage.lake.iceberg_lake import IcebergLake

MANIFEST = "_manifest.json"
QUARANTINE = "_quarantine"
_DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class LegacyPartition:
    quarantine: bool
    dataset: str
    dt: date
    files: list[str]
    """Paths in the lake's filesystem."""
    rows: int


@dataclass
class Migrated:
    rows: dict[str, int] = field(default_factory=dict)
    """Rows moved into each table (quarantine tables as `quarantine_<dataset>`)."""
    partitions: int = 0


def legacy_partitions(lake: IcebergLake) -> list[LegacyPartition]:
    """Every partition the lake still holds in the old layout."""
    store = lake.store
    found = []
    for zone in store.names(store.root):
        if zone in ("raw", lake.namespace) or "." in zone:
            continue
        quarantine = zone == QUARANTINE
        base = store.join(zone)
        datasets = store.names(base) if quarantine else [zone]
        for dataset in datasets:
            folder = f"{base}/{dataset}" if quarantine else base
            for entry in store.names(folder):
                match = _DT_DIR.match(entry)
                manifest = store.read_bytes(f"{folder}/{entry}/{MANIFEST}") if match else None
                if match and manifest is not None:
                    found.append(
                        _partition(quarantine, dataset, match, f"{folder}/{entry}", manifest)
                    )
    return found


def _partition(
    quarantine: bool, dataset: str, match: re.Match[str], folder: str, manifest: bytes
) -> LegacyPartition:
    try:
        content = json.loads(manifest)
        files, rows = [f"{folder}/{name}" for name in content["files"]], int(content["rows"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"{folder}/{MANIFEST} is not a lake manifest ({exc})") from exc
    return LegacyPartition(quarantine, dataset, date.fromisoformat(match[1]), files, rows)


def check_not_legacy(lake: IcebergLake) -> None:
    """Refuse to start an empty Iceberg lake beside an old one."""
    if lake.tables():
        return
    old = legacy_partitions(lake)
    if old:
        raise LakeError(
            f"lake {lake.url} holds {len(old)} partitions in the pre-Iceberg layout "
            f"(<dataset>/dt=…/{MANIFEST}); run `tunelake lake migrate` to rebuild them as "
            "Iceberg tables"
        )


def migrate(lake: IcebergLake) -> Migrated:
    """Rebuild every old-layout partition as Iceberg, then delete the old folders."""
    done = Migrated()
    old = legacy_partitions(lake)
    for part in old:
        table = pq.read_table(part.files, filesystem=lake.store.arrow_fs, partitioning=None)
        if table.num_rows != part.rows:
            raise LakeError(
                f"{part.files[0]}: {table.num_rows} rows where its manifest says {part.rows}; "
                "nothing of this partition was migrated"
            )
        if part.quarantine:
            lake.quarantine(part.dataset, part.dt, table)
            written = lake.read_quarantine(part.dataset, part.dt)
            name = f"quarantine_{part.dataset}"
        else:
            lake.write_partition(part.dataset, part.dt, table)
            written = lake.read_partition(part.dataset, part.dt)
            name = part.dataset
        if (0 if written is None else written.num_rows) != part.rows:
            raise LakeError(f"{name} dt={part.dt}: the migrated rows do not match; kept the old")
        done.rows[name] = done.rows.get(name, 0) + part.rows
        done.partitions += 1
    zones = {QUARANTINE if p.quarantine else p.dataset for p in old}
    lake.store.remove([lake.store.join(zone) for zone in sorted(zones)])
    return done
