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
#: Our columns tunelake derives when a dump lacks them: artist_id from artist_name.
DERIVABLE = {"artist_id": "artist_name"}
#: The audio-feature columns a dump may carry.
FEATURES = tuple(FeatureValues.model_fields)
OPTIONAL = (
    "genres",
    "popularity",
    "artist_popularity",
    "followers",
    "album_name",
    "release_date",
    "explicit",
)
OURS = (*REQUIRED, *FEATURES, *OPTIONAL)

#: Names used by common public dumps (Kaggle's 600k-tracks and tracks-by-genre sets,
#: TidyTuesday's spotify_songs), tried when the dump has no column of our name.
COMMON_ALIASES: dict[str, str] = {
    "id": "track_id",
    "name": "track_name",
    "title": "track_name",
    "track": "track_name",
    "track_title": "track_name",
    "artists": "artist_name",
    "artist": "artist_name",
    "track_artist": "artist_name",
    "artist_ids": "artist_id",
    "id_artists": "artist_id",
    "track_genre": "genres",
    "genre": "genres",
    "artist_genres": "genres",
    "artist_genre": "genres",
    "artist_followers": "followers",
    "followers_total": "followers",
    "track_duration": "duration_ms",
    "track_duration_ms": "duration_ms",
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

    @property
    def derived(self) -> tuple[str, ...]:
        """Our columns the dump lacks that tunelake derives (artist_id from the name)."""
        return derived_columns(self.renames)


def derived_columns(renames: Mapping[str, str]) -> tuple[str, ...]:
    """Which of our DERIVABLE columns a dump read with `renames` lacks: those are derived."""
    given = set(renames.values())
    return tuple(c for c, source in DERIVABLE.items() if c not in given and source in given)


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`dump_col=our_col` pairs from the command line."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        theirs, ours = theirs.strip(), ours.strip()
        if not sep or not theirs or not ours:
            raise DumpError(f"column mapping {pair!r} is not of the form DUMP_COLUMN=COLUMN")
        if mapping.get(theirs, ours) != ours:
            raise DumpError(
                f"--map maps the dump column {printable(theirs)!r} to both "
                f"{printable(mapping[theirs])} and {printable(ours)}: a dump column gives one "
                "of tunelake's columns"
            )
        twin = next((t for t, o in mapping.items() if o == ours and t != theirs), None)
        if twin is not None:
            raise DumpError(
                f"--map maps both {printable(twin)!r} and {printable(theirs)!r} to "
                f"{printable(ours)}: give one dump column for it"
            )
        mapping[theirs] = ours
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
            f"its columns: {_listed(names)}"
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
    # a column derived only when the dump has nothing that looks like it: an artist id
    # under another name (track_artist_id) is the dump's, to be mapped, not made up
    missing = [
        c
        for c in REQUIRED
        if c not in chosen
        and not (c in DERIVABLE and DERIVABLE[c] in chosen and not _look_alikes(c, names, chosen))
    ]
    if missing:
        raise DumpError(
            f"{where} lacks column(s) {', '.join(missing)}; "
            f"{_candidates(missing, names, chosen)}; "
            "map the dump's names with --map DUMP_COLUMN=COLUMN"
        )
    renames = {theirs: ours for ours, theirs in chosen.items()}
    return Columns(renames, tuple(c for c in names if c not in renames))


def _look_alikes(column: str, names: Sequence[str], chosen: Mapping[str, str]) -> list[str]:
    """The dump's unused columns whose names hold every word of `column` (artist_id_x)."""
    used = set(chosen.values())
    words = column.split("_")
    return [n for n in names if n not in used and all(w in n.casefold() for w in words)]


def _candidates(missing: Sequence[str], names: Sequence[str], chosen: Mapping[str, str]) -> str:
    """The dump's unused columns that may be the missing ones (sharing a word of the name,
    e.g. track_artist_id or artist_id_x for artist_id), listed in full; else all its columns."""
    used = set(chosen.values())
    words = {w for c in missing for w in c.split("_") if w not in ("id", "name")} or {"id"}
    likely = [
        n for n in names if n not in used and any(w in n.casefold() for w in words | set(missing))
    ]
    if likely:
        return f"candidate columns: {_listed(likely)}"
    return f"its columns: {_listed(names)}"


def _listed(names: Sequence[str]) -> str:
    """Column names for a message: each made printable, the list never cut."""
    return ", ".join(printable(n, 200) for n in names)
