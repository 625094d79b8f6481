"""A dt's dataset rows, rebuilt from its raw zone alone, read the way the source that wrote
it declared (`SourceInfo`): on a run and on a backfill alike, without calling any source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from tunelake.sources.dump.columns import plan_columns
from tunelake.sources.dump.records import dump_records
from tunelake.sources.dump.source import DUMP_ENDPOINT, dump_rows
from tunelake.sources.errors import PayloadError, RawZoneError
from tunelake.sources.port import Records, SourceInfo
from tunelake.sources.raw_responses import ENDPOINTS, RawResponse, read_raw
from tunelake.sources.replay import replay
from tunelake.storage.lake.port import Lake


def derive(lake: Lake, dt: date, artist_ids: Sequence[str], source: SourceInfo) -> Records:
    """The dt's rows. Searches also return artists the dt did not choose; those are left out.
    Everything else stays, so that a record pointing at nothing reaches validation and
    quarantine."""
    records = _dump(lake, dt, source) if source.kind == "dump" else _api(lake, dt)
    wanted = set(artist_ids)
    return Records(
        artists=[a for a in records.artists if a["artist_id"] in wanted],
        tracks=records.tracks,
        top_tracks=records.top_tracks,
        audio_features=records.audio_features,
    )


def remapped(lake: Lake, dt: date, source: SourceInfo, mapping: Mapping[str, str]) -> SourceInfo:
    """The dt's source, its dump rows read with another column mapping (a backfill that
    corrects a `--map`): the raw zone holds the rows as read, so no file is needed."""
    if source.kind != "dump" or not mapping or source.version is None:
        return source
    rows = dump_rows(read_raw(lake, DUMP_ENDPOINT, dt), source.version)
    header = list(rows[0]["values"]) if rows else []
    where = f"the dump rows of dt {dt.isoformat()} in {lake.url}"
    planned = plan_columns(where, header, mapping)
    return replace(source, columns=planned.renames, derived=planned.derived)


def _dump(lake: Lake, dt: date, source: SourceInfo) -> Records:
    if source.version is None or DUMP_ENDPOINT not in lake.raw_endpoints(dt):
        return Records([], [], [], [])
    rows = dump_rows(read_raw(lake, DUMP_ENDPOINT, dt), source.version)
    return dump_records(rows, source.columns)


def _api(lake: Lake, dt: date) -> Records:
    responses = []
    for endpoint in sorted(set(lake.raw_endpoints(dt)) & ENDPOINTS):
        for record in read_raw(lake, endpoint, dt):
            try:
                responses.append(RawResponse.from_record(record))
            except PayloadError as exc:
                raise RawZoneError(
                    f"raw/{endpoint}/dt={dt.isoformat()} in {lake.url} holds a record that is "
                    f"not a response ({exc}); move that file out of the folder and run the dt "
                    "again"
                ) from exc
    found = replay(responses)
    return Records(
        artists=[a.model_dump() for a in found.artists],
        tracks=[t.model_dump() for t in found.tracks],
        top_tracks=[t.model_dump() for t in found.top_tracks],
        audio_features=[f.model_dump() for f in found.audio_features],
    )
