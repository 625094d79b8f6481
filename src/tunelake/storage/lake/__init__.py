"""The lake: Apache Iceberg tables (pyiceberg) and the raw zone, in a local folder or on S3."""

from __future__ import annotations

from tunelake.config import Settings, load_settings
from tunelake.redact import mask_url
from tunelake.storage.lake.catalog import open_catalog
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.lake.legacy import check_not_legacy
from tunelake.storage.lake.port import Lake, LakeConflict, LakeError, LakeUnavailable
from tunelake.storage.lake.store import connect

__all__ = ["IcebergLake", "Lake", "LakeConflict", "LakeError", "LakeUnavailable", "open_lake"]


def open_lake(
    url: str, settings: Settings | None = None, *, allow_legacy: bool = False
) -> IcebergLake:
    """The lake at url: a local folder (created if missing) or s3://bucket/prefix, whose
    catalog, namespace, S3 endpoint and credentials come from settings (default:
    `load_settings()`; a local lake's default catalog is `<url>/catalog.db`). Storage and
    catalog are checked at once: unreachable raises LakeUnavailable. A lake still in the
    pre-Iceberg layout raises LakeError naming `tunelake lake migrate`, unless allow_legacy."""
    settings = settings or load_settings()
    store = connect(url, settings)
    catalog_url = settings.model_copy(update={"lake_url": url}).resolved_lake_catalog_url
    catalog = open_catalog(catalog_url, store.location, settings)
    lake = IcebergLake(catalog, store, settings.lake_namespace, mask_url(catalog_url))
    if not allow_legacy:
        check_not_legacy(lake)
    return lake
