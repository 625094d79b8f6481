"""The source port: what the pipeline asks of wherever a run's data comes from.

A source resolves queries (names or ids) to artist ids, fetches artists' data and lands it,
as it arrived, in the lake's raw zone. Each source declares itself in a `SourceInfo`, which
the run records beside the dt's raw data: derivation (on a run and on a backfill) reads the
raw zone the way the recorded source says, and validation checks ids against its pattern,
so no step has to guess from the raw zone which source wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from tunelake.models import Artist
from tunelake.names import normalise_name
from tunelake.storage.lake.port import Lake

SourceKind = Literal["api", "dump"]


@dataclass(frozen=True)
class SourceInfo:
    """What a source is, as far as reading its raw data back needs to know."""

    kind: SourceKind
    """How its raw zone is laid out: `api` (responses, replayed) or `dump` (rows as read)."""
    name: str
    """The `--source` value (catalog, spotify, file:PATH)."""
    id_pattern: str | None
    """RE2 pattern every artist and track id must match; None accepts any id (a dump may
    carry ids of its own making)."""
    version: str | None = None
    """What the source's content is: a dump's SHA-256; None where it has no version (an API).
    Progress is kept per version, so a changed dump is fetched and landed again."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """A dump's column name → tunelake's column name, applied when records are derived."""
    derived: tuple[str, ...] = ()
    """Our columns tunelake made up because the dump lacks them (artist_id, from the artist's
    name): recorded with the dt in the lake, so its ids are known to be derived."""

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "columns": dict(self.columns), "derived": list(self.derived)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SourceInfo:
        return cls(
            kind=record["kind"],
            name=record["name"],
            id_pattern=record["id_pattern"],
            version=record.get("version"),
            columns=dict(record.get("columns") or {}),
            derived=tuple(record.get("derived") or ()),
        )


@dataclass(frozen=True)
class Records:
    """A dt's rows of each dataset, derived from its raw zone and not yet judged: validation
    types them, and quarantines what cannot be typed."""

    artists: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    top_tracks: list[dict[str, Any]]
    audio_features: list[dict[str, Any]]


@dataclass(frozen=True)
class Resolution:
    query: str
    status: str
    """resolved, ambiguous or not_found."""
    artist_id: str | None = None
    detail: str | None = None


class Source(Protocol):
    info: SourceInfo

    def default_queries(self) -> list[str]:
        """What a run ingests when given no seeds."""

    def resolve(self, queries: Sequence[str]) -> list[Resolution]: ...

    def fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        """Fetch the artists' top tracks and the audio features of tracks not in known_tracks."""

    def land(self, lake: Lake, dt: date) -> int:
        """Write what was fetched since the last call to the raw zone; returns records landed."""

    def details(self) -> dict[str, Any]:
        """What the run record should say about the source (e.g. a dump's ignored columns)."""


def resolve_by_name(query: str, candidates: Sequence[Artist]) -> Resolution:
    """Exact match on the normalised name; several artists of that name are ambiguous."""
    key = normalise_name(query)
    exact = sorted({a.artist_id for a in candidates if normalise_name(a.name) == key})
    if len(exact) == 1:
        return Resolution(query, "resolved", exact[0])
    if exact:
        return Resolution(
            query, "ambiguous", None, f"{len(exact)} artists share this name: {', '.join(exact)}"
        )
    near = ", ".join(a.name for a in candidates[:3]) or "no results"
    return Resolution(query, "not_found", None, f"no exact match; nearest: {near}")
