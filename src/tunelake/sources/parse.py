"""Pure functions from Spotify and ReccoBeats JSON to the shared records.

Each payload is first validated against a pydantic model of what the endpoint promises
(unknown fields ignored, the fields Spotify removed in 2026 optional), so a payload that is
not what it should be fails with a PayloadError naming the endpoint and the field, instead of
a KeyError deep in the pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunelake.ids import SPOTIFY_ID
from tunelake.models import Artist, AudioFeatures, FeatureValues, Track
from tunelake.sources.errors import PayloadError

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Image(_Payload):
    url: str


class _Followers(_Payload):
    total: int | None = None


class _ArtistPayload(_Payload):
    id: str
    name: str
    genres: list[str] | None = None
    popularity: int | None = None
    followers: _Followers | None = None
    images: list[_Image] | None = None


class _ArtistRef(_Payload):
    id: str


class _AlbumPayload(_Payload):
    id: str
    name: str
    release_date: str | None = None


class _ExternalIds(_Payload):
    isrc: str | None = None


class _TrackPayload(_Payload):
    id: str
    name: str
    artists: list[_ArtistRef] = Field(min_length=1)
    album: _AlbumPayload | None = None
    duration_ms: int | None = None
    explicit: bool | None = None
    popularity: int | None = None
    external_ids: _ExternalIds | None = None
    preview_url: str | None = None


class _SpotifyFeatures(FeatureValues):
    id: str


class _ReccoBeatsFeatures(FeatureValues):
    href: str


class _PagePayload(_Payload, Generic[T]):
    items: list[T]
    next: str | None = None
    offset: int = 0
    total: int | None = None


class _SearchPayload(_Payload):
    artists: _PagePayload[_ArtistPayload]


class _ArtistsPayload(_Payload):
    artists: list[_ArtistPayload | None]


class _TracksPayload(_Payload):
    tracks: list[_TrackPayload | None]


class _AudioFeaturesPayload(_Payload):
    audio_features: list[_SpotifyFeatures | None]


class _ReccoBeatsPayload(_Payload):
    content: list[_ReccoBeatsFeatures]


@dataclass(frozen=True)
class Album:
    """What the albums fallback needs of an album: its tracks get these fields."""

    album_id: str
    name: str
    release_date: str | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None
    """The URL of the next page, None on the last."""
    offset: int
    total: int | None


# -- validation --------------------------------------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validate(model: type[P], obj: Any, endpoint: str) -> P:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the body)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise PayloadError(
            f"{endpoint} payload is not what the endpoint promises: field {field!r}: "
            f"{first['msg']}, got {_short(first['input'])}{more}",
            endpoint=endpoint,
            field=field,
        ) from exc


# -- single objects ----------------------------------------------------------------------------


def _artist(p: _ArtistPayload) -> Artist:
    return Artist(
        artist_id=p.id,
        name=p.name,
        genres=None if p.genres is None else tuple(p.genres),
        popularity=p.popularity,
        followers=p.followers.total if p.followers else None,
        # Spotify lists images widest first
        image_url=p.images[0].url if p.images else None,
    )


def _track(p: _TrackPayload, album: Album | None) -> Track:
    if p.album is not None:
        album = Album(p.album.id, p.album.name, p.album.release_date)
    return Track(
        track_id=p.id,
        name=p.name,
        artist_id=p.artists[0].id,
        album_id=album.album_id if album else None,
        album_name=album.name if album else None,
        release_date=album.release_date if album else None,
        duration_ms=p.duration_ms,
        explicit=p.explicit,
        popularity=p.popularity,
        isrc=p.external_ids.isrc if p.external_ids else None,
        preview_url=p.preview_url,
    )


def _features(p: FeatureValues, track_id: str, source: str) -> AudioFeatures:
    values = p.model_dump(exclude={"id", "href"})
    return AudioFeatures(track_id=track_id, source=source, **values)


_TRACK_HREF = re.compile(rf"/tracks?/({SPOTIFY_ID})/?$")


def _reccobeats(p: _ReccoBeatsFeatures, endpoint: str) -> AudioFeatures:
    match = _TRACK_HREF.search(p.href)
    if match is None:
        raise PayloadError(
            f"{endpoint} payload: field 'href' does not name a Spotify track: {_short(p.href)}",
            endpoint=endpoint,
            field="href",
        )
    return _features(p, match.group(1), "reccobeats")


def parse_artist(obj: Any, *, endpoint: str = "artist") -> Artist:
    """A full artist object (GET /artists/{id}, or an item of search/several/related)."""
    return _artist(_validate(_ArtistPayload, obj, endpoint))


def parse_track(obj: Any, *, endpoint: str = "track", album: Album | None = None) -> Track:
    """A full or simplified track; the primary artist is the first listed. Album fields come
    from the nested album when present, else from `album` (an album's track listing)."""
    return _track(_validate(_TrackPayload, obj, endpoint), album)


def parse_audio_features(
    obj: Any, source: str = "spotify", *, endpoint: str = "audio_features"
) -> AudioFeatures:
    """A Spotify audio-features object (instrumentalness may be an integer 0)."""
    payload = _validate(_SpotifyFeatures, obj, endpoint)
    return _features(payload, payload.id, source)


def parse_reccobeats_features(
    obj: Any, *, endpoint: str = "reccobeats_audio_features"
) -> AudioFeatures:
    """A ReccoBeats audio-features object; its own id is ReccoBeats', the Spotify id is the
    last segment of `href` (https://open.spotify.com/track/<id>)."""
    return _reccobeats(_validate(_ReccoBeatsFeatures, obj, endpoint), endpoint)


# -- whole responses, by endpoint --------------------------------------------------------------


def search_page(body: Any) -> Page[Artist]:
    """GET /search?type=artist."""
    page = _validate(_SearchPayload, body, "search").artists
    return Page([_artist(a) for a in page.items], page.next, page.offset, page.total)


def artist_list(body: Any, endpoint: str) -> list[Artist]:
    """GET /artists?ids= and /artists/{id}/related-artists; unknown ids (null) are left out."""
    payload = _validate(_ArtistsPayload, body, endpoint)
    return [_artist(a) for a in payload.artists if a is not None]


def track_list(body: Any, endpoint: str) -> list[Track]:
    """GET /artists/{id}/top-tracks and /tracks?ids=; unknown ids (null) are left out."""
    payload = _validate(_TracksPayload, body, endpoint)
    return [_track(t, None) for t in payload.tracks if t is not None]


def album_page(body: Any) -> Page[Album]:
    """GET /artists/{id}/albums."""
    page = _validate(_PagePayload[_AlbumPayload], body, "artist_albums")
    albums = [Album(a.id, a.name, a.release_date) for a in page.items]
    return Page(albums, page.next, page.offset, page.total)


def album_tracks_page(body: Any, album: Album) -> Page[Track]:
    """GET /albums/{id}/tracks: simplified tracks, which get the album's fields."""
    page = _validate(_PagePayload[_TrackPayload], body, "album_tracks")
    return Page([_track(t, album) for t in page.items], page.next, page.offset, page.total)


def audio_features_list(body: Any) -> list[AudioFeatures]:
    """GET /audio-features?ids=; tracks without features (null) are left out."""
    payload = _validate(_AudioFeaturesPayload, body, "audio_features")
    return [_features(f, f.id, "spotify") for f in payload.audio_features if f is not None]


def reccobeats_list(body: Any) -> list[AudioFeatures]:
    """ReccoBeats GET /audio-features?ids=; unknown tracks are simply not in `content`."""
    endpoint = "reccobeats_audio_features"
    payload = _validate(_ReccoBeatsPayload, body, endpoint)
    return [_reccobeats(f, endpoint) for f in payload.content]
