"""The typed records every layer shares.

They accept both the 2014-era Spotify payloads and the 2026 development-mode ones: the fields
Spotify removed (popularity, followers, genres) are optional. Parsing an API payload into
these records lives in `tunelake.sources.parse`; here are only the shapes.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

#: Audio features the similarity step uses unless configured otherwise.
DEFAULT_VECTOR_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "valence",
    "tempo",
)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Artist(Record):
    artist_id: str
    name: str
    genres: tuple[str, ...] | None = None
    popularity: int | None = None
    followers: int | None = None
    image_url: str | None = None


class Track(Record):
    track_id: str
    name: str
    artist_id: str
    """The primary (first-listed) artist."""
    album_id: str | None = None
    album_name: str | None = None
    release_date: str | None = None
    duration_ms: int | None = None
    explicit: bool | None = None
    popularity: int | None = None
    isrc: str | None = None
    preview_url: str | None = None


class TopTrack(Record):
    artist_id: str
    track_id: str
    rank: int = Field(ge=1)


class FeatureValues(Record):
    """The audio-feature values, as Spotify, ReccoBeats and the dumps name them."""

    danceability: float | None = None
    energy: float | None = None
    key: int | None = None
    loudness: float | None = None
    mode: int | None = None
    speechiness: float | None = None
    acousticness: float | None = None
    instrumentalness: float | None = None
    liveness: float | None = None
    valence: float | None = None
    tempo: float | None = None
    time_signature: int | None = None
    duration_ms: int | None = None


class AudioFeatures(FeatureValues):
    track_id: str
    source: str = "spotify"
    """Where the values came from: spotify, reccobeats or dump."""


class Neighbour(Record):
    artist_id: str
    related_artist_id: str
    rank: int = Field(ge=1)
    distance: float = Field(ge=0)


# What the serving store holds: one document per artist (built by the publish step) ------


class TrackSummary(Record):
    rank: int
    track_id: str
    name: str
    album_name: str | None = None
    release_date: str | None = None
    duration_ms: int | None = None
    popularity: int | None = None
    preview_url: str | None = None


class RelatedArtist(Record):
    rank: int
    artist_id: str
    name: str
    image_url: str | None = None
    distance: float


class ArtistDocument(Artist):
    """An artist with its genres, top tracks and nearest artists, as served. Fields a later
    version adds are kept (the store is schema-free)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    top_tracks: tuple[TrackSummary, ...] = ()
    related_artists: tuple[RelatedArtist, ...] = ()
    dt: str | None = None
    updated_at: str | None = None


class IngestRequest(Record):
    """A request to ingest an artist (a name or an id): the outbox the automation consumes."""

    request_id: int
    query: str
    source: str
    status: str
    """pending, review (waits for approval), done, ambiguous, not_found or failed."""
    artist_id: str | None = None
    detail: str | None = None
    created_at: datetime
    updated_at: datetime
