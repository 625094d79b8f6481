"""Raw API responses as they arrived: what the lake's raw zone stores and `replay` reads;
and reading the raw zone back."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tunelake.sources.errors import PayloadError, RawZoneError, describe, printable
from tunelake.storage.lake.port import Lake

#: The stable names of the endpoints whose responses are landed.
ENDPOINTS: frozenset[str] = frozenset(
    {
        "search",
        "artist",
        "artists",
        "top_tracks",
        "artist_albums",
        "album_tracks",
        "tracks",
        "audio_features",
        "reccobeats_audio_features",
        "related_artists",
    }
)

_FIELDS = ("endpoint", "request", "status", "fetched_at", "body")


@dataclass(frozen=True)
class RawResponse:
    endpoint: str
    """One of ENDPOINTS."""
    request: str
    """Path and query of the request (never a header, so never a token)."""
    status: int
    fetched_at: str
    """ISO-8601 UTC."""
    body: Any

    def to_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RawResponse:
        missing = [name for name in _FIELDS if name not in record]
        if missing:
            raise PayloadError(
                f"raw response record lacks {', '.join(missing)}; has {', '.join(sorted(record))}",
                endpoint=str(record.get("endpoint", "raw")),
                field=missing[0],
            )
        endpoint = record["endpoint"]
        if endpoint not in ENDPOINTS:
            raise PayloadError(
                f"raw response record has unknown endpoint {endpoint!r}",
                endpoint=str(endpoint),
                field="endpoint",
            )
        return cls(**{name: record[name] for name in _FIELDS})


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def read_raw(lake: Lake, endpoint: str, dt: date) -> list[dict[str, Any]]:
    """Every record landed for endpoint and dt; a damaged file is a RawZoneError naming the
    endpoint, the dt and the fix."""
    try:
        return list(lake.read_raw(endpoint, dt))
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        # gzip and json raise OSError, EOFError, zlib.error and ValueError subclasses
        raise RawZoneError(
            f"cannot read raw/{endpoint}/dt={dt.isoformat()} in {lake.url}: "
            f"{printable(describe(exc))}; move the damaged file out of that folder and run "
            "the dt again to fetch it anew"
        ) from exc
