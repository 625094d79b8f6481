"""The lake: Hive-partitioned Parquet with atomic partition overwrite, in a local folder or on S3."""

from __future__ import annotations

from tunelake.config import Settings
from tunelake.storage.lake.parquet_lake import ParquetLake
from tunelake.storage.lake.port import Lake, LakeError, LakeUnavailable
from tunelake.storage.lake.store import connect

__all__ = ["Lake", "LakeError", "LakeUnavailable", "ParquetLake", "open_lake"]


def open_lake(url: str, settings: Settings | None = None) -> Lake:
    """The lake at url: a local folder (created if missing) or s3://bucket/prefix, whose
    endpoint and credentials come from settings (default: `load_settings()`). An S3 lake is
    checked at once: unreachable, missing bucket or refused credentials raise LakeUnavailable."""
    return ParquetLake(connect(url, settings))
