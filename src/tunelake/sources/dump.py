"""Dataset dumps: CSV or Parquet files with one row per track (the widely shared Spotify
dataset dumps), for users who hold such a file and no API access.

A dump row carries a track id and name, an artist id and name, optionally genres and
popularity, and the audio-feature columns. Column names differ between dumps, so a mapping
renames the dump's columns to ours. Rows land in the raw zone unchanged (endpoint `dump`) and
`records_from_dump_rows` turns them into the shared records, as `replay` does for API responses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tunelake.errors import InputError
from tunelake.models import Artist, AudioFeatures, FeatureValues, TopTrack, Track
from tunelake.sources.replay import Extracted

DUMP_ENDPOINT = "dump"

REQUIRED = ("track_id", "track_name", "artist_id", "artist_name")
#: The audio-feature columns a dump may carry.
FEATURES = tuple(FeatureValues.model_fields)
OPTIONAL = ("genres", "popularity", "artist_popularity", "album_name", "release_date", "explicit")

#: Names used by common public dumps, tried when no mapping is given.
COMMON_ALIASES: dict[str, str] = {
    "id": "track_id",
    "name": "track_name",
    "artists": "artist_name",
    "artist": "artist_name",
    "artist_ids": "artist_id",
    "id_artists": "artist_id",
    "track_genre": "genres",
    "genre": "genres",
    "album": "album_name",
}


class DumpError(InputError):
    """The dump cannot be read as a track table; the message names the file and the fix."""


@dataclass(frozen=True)
class DumpSpec:
    path: Path
    mapping: Mapping[str, str] = field(default_factory=dict)
    """The dump's column name → tunelake's column name."""

    @classmethod
    def parse(cls, source: str, mapping: Mapping[str, str] | None = None) -> DumpSpec:
        """`file:PATH` (the --source form) or a plain path."""
        path = Path(source.removeprefix("file:")).expanduser()
        if not path.is_file():
            raise DumpError(f"dataset dump {path} does not exist")
        return cls(path, dict(mapping or {}))


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`dump_col=our_col` pairs from the command line."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs or not ours:
            raise DumpError(f"column mapping {pair!r} is not of the form DUMP_COLUMN=COLUMN")
        mapping[theirs.strip()] = ours.strip()
    return mapping


def read_dump(spec: DumpSpec) -> pa.Table:
    """The dump as a table with our column names; errors name the missing columns."""
    suffix = spec.path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = pq.read_table(spec.path)
        else:
            table = pacsv.read_csv(spec.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DumpError(f"cannot read dataset dump {spec.path}: {exc}") from exc
    renames = {**COMMON_ALIASES, **spec.mapping}
    names = [
        renames.get(c, c) if renames.get(c, c) not in table.column_names else c
        for c in table.column_names
    ]
    table = table.rename_columns(names)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise DumpError(
            f"dataset dump {spec.path} lacks column(s) {', '.join(missing)}; "
            "map the dump's names with --map DUMP_COLUMN=COLUMN"
        )
    keep = [c for c in (*REQUIRED, *FEATURES, *OPTIONAL) if c in table.column_names]
    return table.select(keep)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _text(value: Any) -> str | None:
    value = _clean(value)
    return None if value is None else str(value)


def _genres(value: Any) -> tuple[str, ...] | None:
    value = _clean(value)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(str(g) for g in value)
    return tuple(g.strip() for g in str(value).split(";") if g.strip())


def records_from_dump_rows(rows: Iterable[Mapping[str, Any]]) -> Extracted:
    """Shared records from dump rows: each artist's tracks, ranked by popularity then order,
    become its top tracks (at most ten, as the API gives)."""
    artists: dict[str, Artist] = {}
    tracks: dict[str, Track] = {}
    features: dict[str, AudioFeatures] = {}
    by_artist: dict[str, list[tuple[float, int, str]]] = {}
    for order, row in enumerate(rows):
        # A row without ids still becomes a record, so validation quarantines it with a reason.
        track_id = _text(row.get("track_id")) or ""
        artist_id = _text(row.get("artist_id")) or ""
        popularity = _clean(row.get("popularity"))
        genres = _genres(row.get("genres"))
        known = artists.get(artist_id)
        if known is None or (genres and not known.genres):
            artists[artist_id] = Artist(
                artist_id=artist_id,
                name=_text(row.get("artist_name")) or "",
                genres=genres,
                popularity=_clean(row.get("artist_popularity")),
            )
        if track_id in tracks:
            continue
        tracks[track_id] = Track(
            track_id=track_id,
            name=_text(row.get("track_name")) or "",
            artist_id=artist_id,
            album_name=_text(row.get("album_name")),
            release_date=_text(row.get("release_date")),
            duration_ms=_clean(row.get("duration_ms")),
            explicit=_clean(row.get("explicit")),
            popularity=popularity,
        )
        values = {f: _clean(row.get(f)) for f in FEATURES}
        if any(values[f] is not None for f in FEATURES if f != "duration_ms"):
            features[track_id] = AudioFeatures(track_id=track_id, source="dump", **values)
        rank_key = -(popularity if isinstance(popularity, int | float) else -1)
        by_artist.setdefault(artist_id, []).append((rank_key, order, track_id))
    top = [
        TopTrack(artist_id=artist_id, track_id=track_id, rank=rank)
        for artist_id, candidates in by_artist.items()
        for rank, (_, _, track_id) in enumerate(sorted(candidates)[:10], start=1)
    ]
    return Extracted(
        artists=list(artists.values()),
        tracks=list(tracks.values()),
        top_tracks=top,
        audio_features=list(features.values()),
    )
