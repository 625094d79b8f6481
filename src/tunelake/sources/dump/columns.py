"""A dump's columns: which of ours each one is, which it lacks, which are ignored.

Column names differ between public dumps; the common names are recognised, and a mapping
(`--map DUMP_COLUMN=COLUMN`) names the rest. The renaming is applied when records are
derived, never to what lands in the raw zone, so a corrected mapping re-derives correctly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tunelake.models import FeatureValues
from tunelake.sources.dump.read import DumpError
from tunelake.sources.errors import printable

REQUIRED = ("track_id", "track_name", "artist_id", "artist_name")
#: The audio-feature columns a dump may carry.
FEATURES = tuple(FeatureValues.model_fields)
OPTIONAL = ("genres", "popularity", "artist_popularity", "album_name", "release_date", "explicit")
OURS = (*REQUIRED, *FEATURES, *OPTIONAL)

#: Names used by common public dumps (Kaggle's 600k-tracks and tracks-by-genre sets,
#: TidyTuesday's spotify_songs), tried when the dump has no column of our name.
COMMON_ALIASES: dict[str, str] = {
    "id": "track_id",
    "name": "track_name",
    "artists": "artist_name",
    "artist": "artist_name",
    "track_artist": "artist_name",
    "artist_ids": "artist_id",
    "id_artists": "artist_id",
    "track_genre": "genres",
    "genre": "genres",
    "artist_genres": "genres",
    "track_popularity": "popularity",
    "album": "album_name",
    "track_album_name": "album_name",
    "album_release_date": "release_date",
    "track_album_release_date": "release_date",
}


@dataclass(frozen=True)
class Columns:
    renames: dict[str, str]
    """The dump's column → ours, for every column that is used."""
    ignored: tuple[str, ...]
    """The dump's columns that are not used, in file order."""


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`dump_col=our_col` pairs from the command line."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise DumpError(f"column mapping {pair!r} is not of the form DUMP_COLUMN=COLUMN")
        mapping[theirs.strip()] = ours.strip()
    return mapping


def plan_columns(where: str, names: Sequence[str], mapping: Mapping[str, str]) -> Columns:
    """Which dump column gives each of ours: the mapping first, then our own name, then a
    common alias. `where` names the dump in errors."""
    unknown = sorted(set(mapping.values()) - set(OURS))
    if unknown:
        raise DumpError(
            f"--map for {where} names unknown column(s) {printable(', '.join(unknown))}; "
            f"tunelake's columns: {', '.join(OURS)}"
        )
    absent = [theirs for theirs in mapping if theirs not in names]
    if absent:
        raise DumpError(
            f"--map names column(s) {printable(', '.join(absent))} that {where} lacks; "
            f"its columns: {printable(', '.join(names))}"
        )
    chosen: dict[str, str] = {}  # ours -> theirs
    for candidates in (
        {theirs: ours for theirs, ours in mapping.items()},
        {c: c for c in names if c in OURS},
        {c: COMMON_ALIASES[c] for c in names if c in COMMON_ALIASES},
    ):
        for theirs, ours in candidates.items():
            if ours not in chosen and theirs not in chosen.values():
                chosen[ours] = theirs
    missing = [c for c in REQUIRED if c not in chosen]
    if missing:
        raise DumpError(
            f"{where} lacks column(s) {', '.join(missing)}; "
            f"its columns: {printable(', '.join(names))}; "
            "map the dump's names with --map DUMP_COLUMN=COLUMN"
        )
    renames = {theirs: ours for ours, theirs in chosen.items()}
    return Columns(renames, tuple(c for c in names if c not in renames))
