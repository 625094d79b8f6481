"""The storage a command works on, opened from settings: warehouse, lake, serving store.

This is the one module that turns `Settings` into storage adapters; the adapters take their
own options. A run opens everything and migrates the warehouse (`open_resources`); a command
that only reads opens the one store it reads (`reading_*`), never migrates, and never
creates the data directory: a mistyped `--home` is an error, not a new empty directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tunelake.config import Settings
from tunelake.errors import NotFound, UserError
from tunelake.storage.lake import LakeOptions, S3Options, open_lake
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.lake.port import Lake
from tunelake.storage.serving import open_serving
from tunelake.storage.serving.port import ServingStore
from tunelake.storage.warehouse import open_warehouse
from tunelake.storage.warehouse.port import Warehouse

SQLITE = "sqlite:///"


@dataclass(frozen=True)
class Resources:
    settings: Settings
    warehouse: Warehouse
    lake: Lake
    serving: ServingStore

    def outputs(self) -> dict[str, str]:
        """Where every output is, safe to print."""
        return {
            "warehouse": self.warehouse.url,
            "lake": self.lake.url,
            "serving": self.serving.url,
            "logs": str(self.settings.logs_dir.resolve()),
            "reports": str(self.settings.reports_dir.resolve()),
        }


def lake_options(settings: Settings) -> LakeOptions:
    return LakeOptions(
        catalog_url=settings.resolved_lake_catalog_url,
        catalog_properties=settings.lake_catalog_properties,
        namespace=settings.lake_namespace,
        s3=S3Options(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        ),
    )


def lake_of(settings: Settings, *, allow_legacy: bool = False) -> IcebergLake:
    return open_lake(settings.resolved_lake_url, lake_options(settings), allow_legacy=allow_legacy)


def serving_of(settings: Settings, *, read_only: bool = False) -> ServingStore:
    return open_serving(
        settings.resolved_serving_url,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        read_only=read_only,
    )


def _make_home(settings: Settings) -> None:
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot use {settings.home} as the data directory: {exc.strerror}; "
            "give a writable folder with --home or TUNELAKE_HOME"
        ) from exc
    _require_writable(settings.home, "the data directory", "--home or TUNELAKE_HOME")


def _require_writable(folder: Path, what: str, setting: str) -> None:
    """A writer's folder that exists read-only (permissions, a read-only mount): said at
    once, not as a database file that "cannot be opened" halfway through."""
    if folder.is_dir() and not os.access(folder, os.W_OK):
        raise UserError(
            f"cannot write to {what} {folder}: it is read-only; give a writable folder "
            f"with {setting}"
        )


@contextmanager
def writing_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The warehouse alone, migrated, for a writer of one of its tables (the ingest-request
    outbox): no lake, no serving store."""
    _make_home(settings)
    warehouse = open_warehouse(settings.resolved_warehouse_url)
    try:
        warehouse.migrate()
        yield warehouse
    finally:
        warehouse.close()


@contextmanager
def open_resources(settings: Settings) -> Iterator[Resources]:
    """Every store, the warehouse migrated to the newest schema: what a run writes to."""
    _make_home(settings)
    with ExitStack() as stack:
        warehouse = open_warehouse(settings.resolved_warehouse_url)
        stack.callback(warehouse.close)
        warehouse.migrate()
        lake_folder = _local_lake(settings)
        if lake_folder is not None:
            _require_writable(lake_folder, "the lake", "TUNELAKE_LAKE_URL (or --home)")
        lake = lake_of(settings)
        store = serving_of(settings)
        stack.callback(store.close)
        yield Resources(settings, warehouse, lake, store)


def _require_file(url: str, what: str, settings: Settings) -> None:
    """An embedded store that does not exist yet has nothing to read: say so, create nothing."""
    path = url.removeprefix(SQLITE).partition("?")[0]
    if url.startswith(SQLITE) and not Path(path).is_file():
        raise NotFound(
            f"no {what} at {path}: nothing has run with data directory "
            f"{settings.home} yet (run `tunelake run`, or check --home / TUNELAKE_HOME)"
        )


@contextmanager
def reading_warehouse(settings: Settings) -> Iterator[Warehouse]:
    url = settings.resolved_warehouse_url
    warehouse = open_warehouse(url, read_only=True)  # a bad URL: said before a missing file
    try:
        _require_file(url, "warehouse", settings)
        yield warehouse
    finally:
        warehouse.close()


@contextmanager
def reading_serving(settings: Settings) -> Iterator[ServingStore]:
    _require_file(settings.resolved_serving_url, "serving store", settings)
    store = serving_of(settings, read_only=True)
    try:
        yield store
    finally:
        store.close()


def reading_lake(settings: Settings, *, allow_legacy: bool = False) -> IcebergLake:
    """The lake for a reader or a maintenance command (vacuum, migrate), which never creates it."""
    require_lake(settings)
    return lake_of(settings, allow_legacy=allow_legacy)


def require_lake(settings: Settings) -> None:
    """A local lake that does not exist has nothing to read or maintain: say so, create nothing."""
    folder = _local_lake(settings)
    if folder is not None and not folder.exists():  # a file: open_lake says it is no folder
        raise NotFound(
            f"no lake at {folder}: nothing has run with data directory {settings.home} yet "
            "(run `tunelake run`, or check --home / TUNELAKE_HOME)"
        )


def _local_lake(settings: Settings) -> Path | None:
    """The lake's folder when it is on this machine's filesystem; None for s3:// and others."""
    url = settings.resolved_lake_url.removeprefix("file://")
    return None if "://" in url else Path(url)


def require_data_directory(settings: Settings) -> None:
    """A server of the embedded stores on a data directory that does not exist (a mistyped
    --home) refuses to start, rather than answering "nothing published" forever."""
    embedded = None in (settings.warehouse_url, settings.lake_url, settings.serving_url)
    if embedded and not settings.home.is_dir():
        raise NotFound(
            f"data directory {settings.home} does not exist: run `tunelake run` first "
            "(or check --home / TUNELAKE_HOME)"
        )
