"""What a dt has already fetched, kept beside the raw responses (raw/_progress/).

Discovery appends the queries it resolved; extraction appends each chunk of artists once its
raw responses have landed. A re-run for the same dt reads these and fetches only the rest;
a backfill reads which artists belong to the dt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from tunelake.observability import now
from tunelake.storage.lake.port import Lake

PROGRESS = "_progress"


@dataclass(frozen=True)
class Resolution:
    query: str
    status: str
    """resolved, ambiguous or not_found."""
    artist_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Progress:
    resolutions: dict[str, Resolution]
    extracted: set[str]

    @property
    def artist_ids(self) -> list[str]:
        """The dt's artists: every resolved query's artist, in first-resolved order."""
        ids = (r.artist_id for r in self.resolutions.values() if r.artist_id)
        return list(dict.fromkeys(ids))


def read_progress(lake: Lake, dt: date) -> Progress:
    resolutions: dict[str, Resolution] = {}
    extracted: set[str] = set()
    if PROGRESS in lake.raw_endpoints(dt):
        for record in lake.read_raw(PROGRESS, dt):
            if record["kind"] == "discovered":
                for item in record["resolutions"]:
                    resolutions[item["query"]] = Resolution(**item)
            elif record["kind"] == "extracted":
                extracted.update(record["artist_ids"])
    return Progress(resolutions, extracted)


def _landed(kind: str, **payload: Any) -> dict[str, Any]:
    return {"kind": kind, "at": now().isoformat(), **payload}


def record_discovered(lake: Lake, dt: date, resolutions: Iterable[Resolution]) -> None:
    items: list[Mapping[str, Any]] = [r.__dict__ for r in resolutions]
    if items:
        lake.write_raw(PROGRESS, dt, [_landed("discovered", resolutions=items)])


def record_extracted(lake: Lake, dt: date, artist_ids: Iterable[str]) -> None:
    lake.write_raw(PROGRESS, dt, [_landed("extracted", artist_ids=sorted(artist_ids))])
