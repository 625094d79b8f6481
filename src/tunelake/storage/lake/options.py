"""What opening a lake needs besides its URL: the S3 connection and the Iceberg catalog.
The adapters take these, never tunelake's Settings (`pipeline.resources` builds them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from tunelake.redact import mask_url

DEFAULT_NAMESPACE = "tunelake"


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str | None = None
    """None: AWS itself."""
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None

    def where(self) -> str:
        """The endpoint as messages may show it (password masked)."""
        return mask_url(self.endpoint_url) if self.endpoint_url else f"AWS S3 ({self.region})"


@dataclass(frozen=True)
class LakeOptions:
    catalog_url: str | None = None
    """The Iceberg catalog: an SQLAlchemy URL (SQL catalog), http(s):// (REST) or glue://.
    None: a SQLite catalog, `catalog.db` in a local lake's folder (an S3 lake must name one)."""
    catalog_properties: Mapping[str, str] = field(default_factory=dict)
    """Any other pyiceberg catalog property."""
    namespace: str = DEFAULT_NAMESPACE
    s3: S3Options = field(default_factory=S3Options)
