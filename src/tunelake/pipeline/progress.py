"""What a dt has already fetched, kept beside the raw responses (raw/_progress/).

A run first records the source it reads (`SourceInfo`); discovery appends the queries it
resolved; extraction appends each chunk of artists once its raw data has landed. Progress
counts per source version: a changed dump (or a changed column mapping) starts the dt's
fetching afresh. A re-run for the same dt reads these and fetches only the rest; a backfill
reads which artists belong to the dt, and which source wrote them, to derive them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from tunelake.observability import now
from tunelake.sources.port import Resolution, SourceInfo
from tunelake.sources.raw_responses import read_raw
from tunelake.storage.lake.port import Lake

PROGRESS = "_progress"


def progress_key(source: SourceInfo | None) -> str | None:
    """What progress is counted under: None for a source without versions (an API, whose
    answers may change but are fetched once a dt); a dump's content and column mapping."""
    if source is None or (source.version is None and not source.columns):
        return None
    mapping = json.dumps(dict(source.columns), sort_keys=True).encode()
    return f"{source.version}:{hashlib.sha256(mapping).hexdigest()[:16]}"


@dataclass(frozen=True)
class Progress:
    resolutions: dict[str, Resolution]
    extracted: set[str]
    source: SourceInfo | None = None
    """The source the dt was last run from; None for a dt landed before sources recorded
    themselves."""

    @property
    def artist_ids(self) -> list[str]:
        """The dt's artists: every resolved query's artist, in first-resolved order."""
        ids = (r.artist_id for r in self.resolutions.values() if r.artist_id)
        return list(dict.fromkeys(ids))


def read_progress(lake: Lake, dt: date) -> Progress:
    """The dt's progress under the source it was last run from."""
    if PROGRESS not in lake.raw_endpoints(dt):
        return Progress({}, set())
    records = read_raw(lake, PROGRESS, dt)
    sources = [SourceInfo.from_record(r["source"]) for r in records if r["kind"] == "source"]
    source = sources[-1] if sources else None
    key = progress_key(source)
    resolutions: dict[str, Resolution] = {}
    extracted: set[str] = set()
    for record in records:
        if record.get("key") != key:
            continue
        if record["kind"] == "discovered":
            for item in record["resolutions"]:
                resolutions[item["query"]] = Resolution(**item)
        elif record["kind"] == "extracted":
            extracted.update(record["artist_ids"])
    return Progress(resolutions, extracted, source)


def _landed(kind: str, **payload: Any) -> dict[str, Any]:
    return {"kind": kind, "at": now().isoformat(), **payload}


def record_source(lake: Lake, dt: date, source: SourceInfo) -> None:
    """Say which source the dt's raw data now comes from (once, unless it changed)."""
    if read_progress(lake, dt).source != source:
        lake.write_raw(PROGRESS, dt, [_landed("source", source=source.to_record())])


def record_discovered(
    lake: Lake, dt: date, source: SourceInfo, found: Iterable[Resolution]
) -> None:
    items: list[Mapping[str, Any]] = [r.__dict__ for r in found]
    if items:
        record = _landed("discovered", key=progress_key(source), resolutions=items)
        lake.write_raw(PROGRESS, dt, [record])


def record_extracted(lake: Lake, dt: date, source: SourceInfo, artist_ids: Iterable[str]) -> None:
    record = _landed("extracted", key=progress_key(source), artist_ids=sorted(artist_ids))
    lake.write_raw(PROGRESS, dt, [record])
