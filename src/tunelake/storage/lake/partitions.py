"""Versioned, atomically switched partitions: `<base>/<dataset>/dt=YYYY-MM-DD/`.

A write puts its files under a fresh version folder `_v<id>/` (a name no Hive reader takes for
a column), then replaces the partition's `_manifest.json` in one atomic step. Readers go only
through the manifest, so they see the old version or the new one, never a mix.

After the switch the writer deletes the version it replaced, and any other version or temp
file older than the orphan grace (leftovers of crashed writes). Younger ones may belong to a
writer still at work on the same partition, so they are left to a later write.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from tunelake.storage.lake.ids import ID_PATTERN, created_ns, new_id
from tunelake.storage.lake.port import LakeError
from tunelake.storage.lake.store import TEMP_PREFIX, Store

MANIFEST = "_manifest.json"
VERSION_PREFIX = "_v"
PARQUET_COMPRESSION = "zstd"
READ_ATTEMPTS = 20
"""A reader retries when a writer deletes the version it was reading; a partition replaced
this many times during one read is reported instead."""

# Partition entries a write may leave behind: version folders and local temp files.
_ENTRY = re.compile(rf"^(?:{VERSION_PREFIX}|{re.escape(TEMP_PREFIX)})({ID_PATTERN})")
_DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Manifest:
    version: str
    files: list[str]
    """Paths relative to the partition folder, so a lake can be copied elsewhere whole."""
    rows: int
    written_at: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError) as exc:
            raise LakeError(
                f"{where} is not a lake manifest ({exc}); restore or delete it"
            ) from exc


class Partitions:
    """The partitions of every dataset under one base folder (the curated zone, quarantine)."""

    def __init__(self, store: Store, base: str, orphan_grace: timedelta) -> None:
        self.store = store
        self.base = base
        self.orphan_grace = orphan_grace

    def folder(self, dataset: str, dt: date) -> str:
        return f"{self.base}/{dataset}/dt={dt.isoformat()}"

    def commit(self, dataset: str, dt: date, table: pa.Table) -> list[str]:
        """Write table as the partition's new version and switch to it; the new files' URLs."""
        folder = self.folder(dataset, dt)
        version = new_id()
        name = f"{VERSION_PREFIX}{version}/part-0.parquet"
        with self.store.writer(f"{folder}/{name}") as f:
            pq.write_table(table, f, compression=PARQUET_COMPRESSION)
        replaced = self.manifest(dataset, dt)
        manifest = Manifest(version, [name], table.num_rows, datetime.now(UTC).isoformat())
        self.store.put(f"{folder}/{MANIFEST}", manifest.to_json())
        self._sweep(folder, version, replaced)
        return [self.store.url_of(f"{folder}/{name}")]

    def drop(self, dataset: str, dt: date) -> None:
        """Remove the partition: its manifest first (one atomic delete), then its files."""
        folder = self.folder(dataset, dt)
        replaced = self.manifest(dataset, dt)
        if replaced is not None:
            self.store.remove([f"{folder}/{MANIFEST}"])
        self._sweep(folder, None, replaced)

    def manifest(self, dataset: str, dt: date) -> Manifest | None:
        where = f"{self.folder(dataset, dt)}/{MANIFEST}"
        data = self.store.read_bytes(where)
        return None if data is None else Manifest.from_json(data, self.store.url_of(where))

    def read(self, dataset: str, dt: date) -> pa.Table | None:
        """The current version's rows; None if the partition was never committed."""
        retrying = Retrying(
            retry=retry_if_exception_type(FileNotFoundError),
            stop=stop_after_attempt(READ_ATTEMPTS),
            wait=wait_random(0, 0.02),
        )
        try:
            return retrying(self._read_once, dataset, dt)
        except RetryError as exc:
            raise LakeError(
                f"partition {self.store.url_of(self.folder(dataset, dt))} was replaced "
                f"{READ_ATTEMPTS} times while being read; try again"
            ) from exc

    def _read_once(self, dataset: str, dt: date) -> pa.Table | None:
        manifest = self.manifest(dataset, dt)
        if manifest is None:
            return None
        folder = self.folder(dataset, dt)
        paths = [f"{folder}/{name}" for name in manifest.files]
        # Without partitioning=None pyarrow would add a `dt` column parsed from the path.
        return pq.read_table(paths, filesystem=self.store.arrow_fs, partitioning=None)

    def dates(self, dataset: str) -> list[date]:
        """The committed partitions' dates, ascending."""
        folder = f"{self.base}/{dataset}/"
        found = []
        for path in self.store.find(folder):
            parts = path.removeprefix(folder).split("/")
            if len(parts) == 2 and parts[1] == MANIFEST:
                found.append(_folder_date(parts[0], path))
        return sorted(found)

    def files(self, dataset: str) -> dict[date, list[str]]:
        manifests = {self.folder(dataset, dt): dt for dt in self.dates(dataset)}
        paths = [f"{folder}/{MANIFEST}" for folder in manifests]
        # One concurrent batch on S3; a partition dropped meanwhile is simply left out.
        found = self.store.fs.cat(paths, on_error="omit") if paths else {}
        result: dict[date, list[str]] = {}
        for folder, dt in manifests.items():
            where = f"{folder}/{MANIFEST}"
            data = found.get(where)
            if data is not None:
                manifest = Manifest.from_json(data, self.store.url_of(where))
                result[dt] = [self.store.url_of(f"{folder}/{name}") for name in manifest.files]
        return result

    def datasets(self) -> list[str]:
        """Names under base that have at least one committed partition."""
        names = [n for n in self.store.names(self.base) if DATASET_NAME.match(n)]
        return [n for n in names if self.dates(n)]

    def _sweep(self, folder: str, current: str | None, replaced: Manifest | None) -> None:
        cutoff = time.time_ns() - int(self.orphan_grace.total_seconds() * 1e9)
        stale = []
        for name in self.store.names(folder):
            match = _ENTRY.match(name)
            if match is None or match[1] == current:
                continue
            id_ = match[1]
            if (replaced is not None and id_ == replaced.version) or created_ns(id_) < cutoff:
                stale.append(f"{folder}/{name}")
        self.store.remove(stale)


def _folder_date(name: str, where: str) -> date:
    match = _DT_DIR.match(name)
    if match:
        with suppress(ValueError):  # dt=2026-02-30 matches but is no date
            return date.fromisoformat(match[1])
    raise LakeError(f"{where}: {name!r} is not a dt=YYYY-MM-DD partition folder")
