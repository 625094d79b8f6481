"""The lake: Apache Iceberg tables (pyiceberg) and the raw zone, in a local folder or on S3."""

from __future__ import annotations

from tunelake.errors import ConfigError
from tunelake.redact import mask_url
from tunelake.storage.lake.catalog import open_catalog
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.lake.legacy import check_not_legacy
from tunelake.storage.lake.options import LakeOptions, S3Options
from tunelake.storage.lake.port import (
    CatalogDamaged,
    Lake,
    LakeConflict,
    LakeError,
    LakeUnavailable,
)
from tunelake.storage.lake.repair import (
    Repaired,
    damaged_catalog_file,
    repair_tables,
    set_catalog_aside,
)
from tunelake.storage.lake.store import Store, connect

__all__ = [
    "CatalogDamaged",
    "IcebergLake",
    "Lake",
    "LakeConflict",
    "LakeError",
    "LakeOptions",
    "LakeUnavailable",
    "Repaired",
    "S3Options",
    "open_lake",
    "repair_lake",
]


def open_lake(
    url: str, options: LakeOptions | None = None, *, allow_legacy: bool = False
) -> IcebergLake:
    """The lake at url: a local folder (created if missing) or s3://bucket/prefix, with its
    catalog, namespace and S3 connection from options (a local lake's default catalog is
    `<url>/catalog.db`). Storage and catalog are checked at once: unreachable raises
    LakeUnavailable. A lake still in the pre-Iceberg layout raises LakeError naming
    `tunelake lake migrate`, unless allow_legacy."""
    options = options or LakeOptions()
    store = connect(url, options.s3, options.namespace)
    catalog_url = options.catalog_url or _local_catalog(store)
    catalog = open_catalog(catalog_url, store.location, options)
    lake = IcebergLake(catalog, store, options.namespace, mask_url(catalog_url))
    if not allow_legacy:
        check_not_legacy(lake)
    return lake


def _local_catalog(store: Store) -> str:
    if not store.is_local:
        raise ConfigError(
            f"the lake {store.url} needs a catalog: set TUNELAKE_LAKE_CATALOG_URL (an SQLAlchemy "
            "URL such as the warehouse's, a REST http(s):// URL, or glue://)"
        )
    return f"sqlite:///{store.root}/catalog.db"


def repair_lake(url: str, options: LakeOptions | None = None) -> Repaired:
    """Rebuild the catalog entries of the lake at url from the tables' newest readable
    metadata files: a damaged local catalog file is kept aside and every table found under
    the root is registered into a fresh catalog; otherwise only the tables whose current
    metadata does not read are re-pointed. Re-running it on a sound lake changes nothing."""
    options = options or LakeOptions()
    store = connect(url, options.s3, options.namespace)
    catalog_url = options.catalog_url or _local_catalog(store)
    damaged = damaged_catalog_file(catalog_url)
    kept = set_catalog_aside(damaged) if damaged is not None else None
    catalog = open_catalog(catalog_url, store.location, options)
    tables = repair_tables(catalog, store, options.namespace, every=kept is not None)
    return Repaired(tables, kept)
