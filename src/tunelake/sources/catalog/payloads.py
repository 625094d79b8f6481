"""Spotify Web API and ReccoBeats JSON objects for catalog entities, per API profile.

Shapes follow the recordings in tests/fixtures/spotify plus the fields the current API adds
(release_date, release_date_precision and total_tracks on albums, album_group on an artist's
albums). In the development profile artists lose popularity, followers and genres, and tracks
lose popularity, as Spotify's 2026 development mode does. Objects are cached per entity and
must not be mutated.
"""

from __future__ import annotations

import functools
from typing import Any

from tunelake.sources.catalog.model import Catalog
from tunelake.sources.catalog.vocab import LABELS

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
RECCOBEATS_FEATURES = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "key",
    "liveness",
    "loudness",
    "mode",
    "speechiness",
    "tempo",
    "valence",
)
Json = dict[str, Any]


def _links(kind: str, entity_id: str) -> Json:
    return {
        "external_urls": {"spotify": f"{OPEN}/{kind}/{entity_id}"},
        "href": f"{API}/{kind}s/{entity_id}",
        "id": entity_id,
    }


def page(items: list[Any], href: str, offset: int, limit: int, total: int) -> Json:
    """A paging object; `href` is the endpoint URL up to its query, which `href` pages extend
    with offset and limit (and may already carry other parameters after a '?')."""
    sep = "&" if "?" in href else "?"

    def at(start: int) -> str:
        return f"{href}{sep}offset={start}&limit={limit}"

    return {
        "href": at(offset),
        "items": items,
        "limit": limit,
        "next": at(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": at(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


class Payloads:
    def __init__(self, catalog: Catalog, profile: str) -> None:
        self.catalog = catalog
        self.extended = profile == "extended"
        cache = functools.lru_cache(maxsize=200_000)
        self.artist_simple = cache(self._artist_simple)
        self.artist = cache(self._artist)
        self.album_simple = cache(self._album_simple)
        self.album = cache(self._album)
        self.track_simple = cache(self._track_simple)
        self.track = cache(self._track)
        self.audio_features = cache(self._audio_features)
        self.reccobeats_features = cache(self._reccobeats_features)

    def _images(self, kind: str, index: int) -> list[Json]:
        return [
            {"height": size, "url": url, "width": size}
            for size, url in self.catalog.image_urls(kind, index)
        ]

    def _artist_simple(self, a: int) -> Json:
        c = self.catalog
        artist_id = c.artist_id(a)
        return {
            **_links("artist", artist_id),
            "name": c.artists.names[a],
            "type": "artist",
            "uri": f"spotify:artist:{artist_id}",
        }

    def _artist(self, a: int) -> Json:
        c = self.catalog
        full = {**self.artist_simple(a), "images": self._images("artist", a)}
        if self.extended:
            full["followers"] = {"href": None, "total": int(c.artists.followers[a])}
            full["genres"] = c.artist_genres(a)
            full["popularity"] = int(c.artists.popularity[a])
        return full

    def _album_simple(self, j: int) -> Json:
        c = self.catalog
        album_id = c.album_id(j)
        date, precision = c.release_date(j)
        return {
            "album_type": c.album_type(j),
            "artists": [self.artist_simple(int(c.albums.artist[j]))],
            "available_markets": list(c.markets(j)),
            **_links("album", album_id),
            "images": self._images("album", j),
            "name": c.album_name(j),
            "release_date": date,
            "release_date_precision": precision,
            "total_tracks": len(c.album_track_range(j)),
            "type": "album",
            "uri": f"spotify:album:{album_id}",
        }

    def artist_album(self, a: int, j: int) -> Json:
        """An album as listed among artist `a`'s albums, with its album_group."""
        return {**self.album_simple(j), "album_group": self.catalog.album_group(a, j)}

    def _album(self, j: int) -> Json:
        c = self.catalog
        album = self.album_simple(j)
        year = album["release_date"][:4]
        label = LABELS[int(c.albums.artist[j]) % len(LABELS)]
        tracks = [self.track_simple(t) for t in c.album_track_range(j)]
        full = {
            **album,
            "copyrights": [
                {"text": f"(C) {year} {label}", "type": "C"},
                {"text": f"(P) {year} {label}", "type": "P"},
            ],
            "external_ids": {"upc": f"{(c.seed * 1_000_003 + j) % 10**12:012d}"},
            "genres": [],
            "tracks": page(tracks[:50], f"{album['href']}/tracks", 0, 50, len(tracks)),
        }
        if self.extended:
            full["popularity"] = int(c.albums.popularity[j])
        return full

    def _track_simple(self, t: int) -> Json:
        c = self.catalog
        track_id = c.track_id(t)
        return {
            "artists": [self.artist_simple(a) for a in c.track_artists(t)],
            "available_markets": list(c.markets(int(c.tracks.album[t]))),
            "disc_number": int(c.tracks.disc_number[t]),
            "duration_ms": int(c.tracks.duration_ms[t]),
            "explicit": bool(c.tracks.explicit[t]),
            **_links("track", track_id),
            "name": c.track_name(t),
            "preview_url": c.preview_url(t),
            "track_number": int(c.tracks.track_number[t]),
            "type": "track",
            "uri": f"spotify:track:{track_id}",
        }

    def _track(self, t: int) -> Json:
        c = self.catalog
        full = {
            **self.track_simple(t),
            "album": self.album_simple(int(c.tracks.album[t])),
            "external_ids": {"isrc": c.isrc(t)},
        }
        if self.extended:
            full["popularity"] = int(c.tracks.popularity[t])
        return full

    def _audio_features(self, t: int) -> Json | None:
        values = self.catalog.feature_values(t)
        if values is None:
            return None
        track_id = self.catalog.track_id(t)
        return {
            **values,
            "type": "audio_features",
            "id": track_id,
            "uri": f"spotify:track:{track_id}",
            "track_href": f"{API}/tracks/{track_id}",
            "analysis_url": f"{API}/audio-analysis/{track_id}",
        }

    def _reccobeats_features(self, t: int) -> Json | None:
        values = self.catalog.feature_values(t)
        if values is None:
            return None
        track_id = self.catalog.track_id(t)
        return {
            "id": self.catalog.reccobeats_id(track_id),
            "href": f"{OPEN}/track/{track_id}",
            **{name: values[name] for name in RECCOBEATS_FEATURES},
        }
