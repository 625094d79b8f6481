"""Dump rows (as read, from the raw zone) → the rows of tunelake's datasets.

Nothing here judges a value: a value that cannot be typed reaches validation as it is and is
quarantined there with its reason and its row. What only the whole dump shows is judged here:
a track listed again under another artist, or again with other values, is a conflict; the
first row stands and the later one is quarantined with the reason (`REJECTED`).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tunelake.ids import derived_artist_id
from tunelake.sources.dump.columns import FEATURES, derived_columns
from tunelake.sources.port import Records
from tunelake.validate import REJECTED, SOURCE_ROW

#: An artist's top tracks: at most ten, as the API gives.
TOP_N = 10
_SEPARATORS = re.compile(r"[;|]")
#: The values of a track row two listings of one track must agree on.
_TRACK_VALUES = ("track_name", "album_name", "release_date", "explicit", "popularity", *FEATURES)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def split_list(value: Any) -> list[str]:
    """A list a dump writes in one cell: `a;b`, `a|b`, or a list literal (`['a', 'b']`, as
    Python or JSON writes it); an empty literal is an empty list."""
    value = _clean(value)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items: list[Any] = list(value)
    else:
        text = str(value).strip()
        items = _SEPARATORS.split(text)
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, list | tuple):
                items = list(parsed)
    return [str(i).strip() for i in items if i is not None and str(i).strip()]


def primary(value: Any) -> str | None:
    """The first-listed of a cell's artists (a track's primary artist)."""
    listed = split_list(value)
    return listed[0] if listed else None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def artist_id_of(artist_id: Any, artist_name: Any, derived: bool) -> str | None:
    """A row's (primary) artist id: the dump's, or derived from the artist's name when the
    dump gives no ids (`derived`)."""
    if not derived:
        return primary(artist_id)
    name = primary(artist_name)
    return derived_artist_id(name) if name else None


def _renamed(values: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {ours: _clean(values.get(theirs)) for theirs, ours in columns.items()}


def dump_records(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> Records:
    """Dataset rows from raw dump records (`{"row": n, "values": {...}}`), each carrying its
    `source_row`; `columns` maps the dump's names to ours. An artist's tracks, ranked by
    popularity then file order, become its top tracks."""
    artists: dict[str, dict[str, Any]] = {}
    tracks: dict[str, dict[str, Any]] = {}
    conflicts: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    ranking: dict[str, list[tuple[float, int, str]]] = {}
    # a dump with audio-feature columns gives every track a feature row, an empty one too:
    # validation quarantines that with its reason, so the track is counted somewhere
    with_features = any(ours in FEATURES for ours in columns.values())
    derived = "artist_id" in derived_columns(columns)
    for record in rows:
        n = record["row"]
        v = _renamed(record["values"], columns)
        # a row without ids still becomes a record, so validation quarantines it with a reason
        artist_id = artist_id_of(v.get("artist_id"), v.get("artist_name"), derived) or ""
        # ids without surrounding whitespace (as artist ids are split): " t1" is t1
        track_id = str(v.get("track_id") or "").strip()
        _add_artist(artists, artist_id, v, n)
        track = {
            "track_id": track_id,
            "name": v.get("track_name"),
            "artist_id": artist_id,
            "album_name": v.get("album_name"),
            "release_date": v.get("release_date"),
            "duration_ms": v.get("duration_ms"),
            "explicit": v.get("explicit"),
            "popularity": v.get("popularity"),
            SOURCE_ROW: n,
        }
        first = tracks.get(track_id)
        if first is not None:
            reason = _conflict(first, track, v)
            if reason:
                conflicts.append({**track, REJECTED: reason})
            continue
        tracks[track_id] = {**track, "_values": v}
        if with_features:
            values = {f: v.get(f) for f in FEATURES}
            features.append({"track_id": track_id, "source": "dump", **values, SOURCE_ROW: n})
        popularity = _number(v.get("popularity"))
        rank_key = -(popularity if popularity is not None else -1)
        ranking.setdefault(artist_id, []).append((rank_key, n, track_id))
    top = [
        {"artist_id": artist_id, "track_id": track_id, "rank": rank}
        for artist_id, candidates in ranking.items()
        for rank, (_, _, track_id) in enumerate(sorted(candidates)[:TOP_N], start=1)
    ]
    return Records(
        artists=list(artists.values()),
        tracks=[{k: x for k, x in t.items() if k != "_values"} for t in tracks.values()]
        + conflicts,
        top_tracks=top,
        audio_features=features,
    )


def _add_artist(
    artists: dict[str, dict[str, Any]], artist_id: str, v: Mapping[str, Any], n: int
) -> None:
    genres = split_list(v.get("genres"))
    known = artists.get(artist_id)
    if known is None:
        artists[artist_id] = {
            "artist_id": artist_id,
            "name": primary(v.get("artist_name")),
            "genres": genres if v.get("genres") is not None else None,
            "popularity": v.get("artist_popularity"),
            "followers": v.get("followers"),
            SOURCE_ROW: n,
        }
    elif genres:
        # a dump lists a track once per genre (or playlist): the artist has all of them
        known["genres"] = list(dict.fromkeys([*(known["genres"] or []), *genres]))


def _conflict(first: Mapping[str, Any], again: Mapping[str, Any], v: Mapping[str, Any]) -> str:
    """Why a second listing of a track cannot stand beside the first ('' when it repeats it)."""
    track_id, row = first["track_id"], first[SOURCE_ROW]
    if again["artist_id"] != first["artist_id"]:
        return (
            f"track {track_id} is listed under artist {first['artist_id']} in row {row} and "
            f"under {again['artist_id']} here: the first listing is kept"
        )
    differ = [c for c in _TRACK_VALUES if v.get(c) != first["_values"].get(c)]
    if differ:
        return (
            f"track {track_id} is listed again with other {', '.join(differ)} than in row {row}: "
            "the first listing is kept"
        )
    return ""
