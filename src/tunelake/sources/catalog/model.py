"""The catalog as the server and the tests see it: column tables and lookups over them.

Entity `i` of a kind has the `i`-th smallest id (the generator draws ids sorted), so a lookup is
a binary search and "ties broken by id" is index order. Names, ISRCs and image URLs of albums and
tracks are derived from a hash when asked for, never stored.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import numpy as np

from tunelake.ids import is_spotify_id
from tunelake.models import DEFAULT_VECTOR_FEATURES, AudioFeatures, Track
from tunelake.models import Artist as ArtistRecord
from tunelake.names import normalise_name
from tunelake.sources.catalog import naming, vocab

ALBUM_TYPES: tuple[str, ...] = ("album", "single", "compilation")
#: Groups of an artist's albums, in the order the albums endpoint lists them.
ALBUM_GROUPS: tuple[str, ...] = ("album", "single", "compilation", "appears_on")
PRECISIONS: tuple[str, ...] = ("day", "month", "year")
IMAGE_SIZES: tuple[int, ...] = (640, 300, 64)
TOP_TRACKS = 10
RELATED_ARTISTS = 20
RECCOBEATS_NAMESPACE = uuid.UUID("6b4e1f0a-3c2d-5e8f-9a7b-1c2d3e4f5a6b")


@dataclass(frozen=True)
class Album:
    album_id: str
    name: str
    artist_id: str
    album_type: str
    release_date: str
    release_date_precision: str
    total_tracks: int
    track_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Artists:
    ids: np.ndarray  # S22, sorted
    names: list[str]
    normalised: list[str]  # normalise_name of each name, for search
    genres: np.ndarray  # int8 (n, 3): primary genre first, -1 = none
    popularity: np.ndarray  # uint8
    followers: np.ndarray  # int64
    centres: np.ndarray  # float32 (n, len(FEATURES)): the artist's sound
    album_start: np.ndarray  # int64 (n + 1): own albums are album_start[a]:album_start[a + 1]
    appears_start: np.ndarray  # int64 (n + 1): CSR into appears_on
    appears_on: np.ndarray  # int32: other artists' albums with a track featuring the artist


@dataclass(frozen=True, eq=False)
class Albums:
    ids: np.ndarray  # S22, sorted
    artist: np.ndarray  # int32
    album_type: np.ndarray  # uint8 into ALBUM_TYPES
    year: np.ndarray  # int16
    month: np.ndarray  # int8
    day: np.ndarray  # int8
    precision: np.ndarray  # uint8 into PRECISIONS
    popularity: np.ndarray  # uint8
    region: np.ndarray  # int8 into vocab.REGIONS, -1 = every market
    track_start: np.ndarray  # int64 (m + 1): tracks are track_start[j]:track_start[j + 1]


@dataclass(frozen=True, eq=False)
class Tracks:
    ids: np.ndarray  # S22, sorted
    album: np.ndarray  # int32
    track_number: np.ndarray  # int16
    disc_number: np.ndarray  # int8
    duration_ms: np.ndarray  # int32
    explicit: np.ndarray  # bool
    popularity: np.ndarray  # uint8
    has_preview: np.ndarray  # bool
    featured: np.ndarray  # int32: a second credited artist, -1 = none
    has_features: np.ndarray  # bool
    features: np.ndarray  # float32 (t, len(FEATURES))
    key: np.ndarray  # int8, -1 = no key detected
    mode: np.ndarray  # int8
    time_signature: np.ndarray  # int8


class Catalog:
    """The generated catalog: lookups by id for tests and expectations, by index for the server.

    Unknown ids raise KeyError in the id-based methods; `*_index` return None instead.
    """

    def __init__(self, seed: int, artists: Artists, albums: Albums, tracks: Tracks) -> None:
        self.seed = seed
        self.artists = artists
        self.albums = albums
        self.tracks = tracks
        self.genres: tuple[str, ...] = tuple(g.name for g in vocab.GENRES)
        self.search_indexes = functools.lru_cache(maxsize=4096)(self._search_indexes)
        self.related_indexes = functools.lru_cache(maxsize=65536)(self._related_indexes)

    def __len__(self) -> int:
        return len(self.artists.names)

    def __repr__(self) -> str:
        return (
            f"Catalog(seed={self.seed}, artists={len(self)}, albums={len(self.albums.ids)}, "
            f"tracks={len(self.tracks.ids)})"
        )

    # ids and indexes ---------------------------------------------------------------------
    @staticmethod
    def _find(ids: np.ndarray, value: str) -> int | None:
        if not is_spotify_id(value):
            return None
        key = value.encode()
        pos = int(np.searchsorted(ids, key))
        return pos if pos < len(ids) and ids[pos] == key else None

    def artist_index(self, artist_id: str) -> int | None:
        return self._find(self.artists.ids, artist_id)

    def album_index(self, album_id: str) -> int | None:
        return self._find(self.albums.ids, album_id)

    def track_index(self, track_id: str) -> int | None:
        return self._find(self.tracks.ids, track_id)

    def _require(self, kind: str, index: int | None, value: str) -> int:
        if index is None:
            raise KeyError(f"no {kind} with id {value!r} in this catalog")
        return index

    def artist_id(self, a: int) -> str:
        return self.artists.ids[a].decode()

    def album_id(self, j: int) -> str:
        return self.albums.ids[j].decode()

    def track_id(self, t: int) -> str:
        return self.tracks.ids[t].decode()

    # derived attributes (index-based, shared by the records and the API payloads) ----------
    def image_urls(self, kind: str, index: int) -> list[tuple[int, str]]:
        return [
            (size, f"https://i.scdn.co/image/{naming.derived_hex(self.seed, kind, index, size)}")
            for size in IMAGE_SIZES
        ]

    def artist_genres(self, a: int) -> list[str]:
        return [self.genres[g] for g in self.artists.genres[a] if g >= 0]

    def album_name(self, j: int) -> str:
        return naming.derived_title(self.seed, "album", j)

    def album_type(self, j: int) -> str:
        return ALBUM_TYPES[self.albums.album_type[j]]

    def release_date(self, j: int) -> tuple[str, str]:
        """(release_date, release_date_precision) as the API writes them."""
        albums = self.albums
        precision = PRECISIONS[albums.precision[j]]
        date = f"{albums.year[j]:04d}"
        if precision in ("month", "day"):
            date += f"-{albums.month[j]:02d}"
        if precision == "day":
            date += f"-{albums.day[j]:02d}"
        return date, precision

    def markets(self, j: int) -> tuple[str, ...]:
        region = int(self.albums.region[j])
        return vocab.MARKETS if region < 0 else vocab.REGIONS[region]

    def album_track_range(self, j: int) -> range:
        return range(int(self.albums.track_start[j]), int(self.albums.track_start[j + 1]))

    def track_artist(self, t: int) -> int:
        return int(self.albums.artist[self.tracks.album[t]])

    def track_artists(self, t: int) -> list[int]:
        featured = int(self.tracks.featured[t])
        return [self.track_artist(t)] + ([featured] if featured >= 0 else [])

    def track_name(self, t: int) -> str:
        return naming.derived_title(self.seed, "track", t)

    def isrc(self, t: int) -> str:
        # registrant and designation spell the track index, so ISRCs are unique in a catalog
        a = self.track_artist(t)
        country = vocab.ISRC_COUNTRIES[a % len(vocab.ISRC_COUNTRIES)]
        registrant = np.base_repr(t // 100_000, 36).rjust(3, "0")
        year = int(self.albums.year[self.tracks.album[t]]) % 100
        return f"{country}{registrant}{year:02d}{t % 100_000:05d}"

    def preview_url(self, t: int) -> str | None:
        if not self.tracks.has_preview[t]:
            return None
        return f"https://p.scdn.co/mp3-preview/{naming.derived_hex(self.seed, 'preview', t)}"

    def feature_values(self, t: int) -> dict[str, float | int] | None:
        """The track's audio features as the API reports them, None if it has none."""
        tracks = self.tracks
        if not tracks.has_features[t]:
            return None
        values: dict[str, float | int] = {
            name: round(float(v), vocab.FEATURE_DECIMALS[name])
            for name, v in zip(vocab.FEATURES, tracks.features[t], strict=True)
        }
        if values["instrumentalness"] == 0:
            values["instrumentalness"] = 0  # Spotify sends an integer 0 here (see recordings)
        values["key"] = int(tracks.key[t])
        values["mode"] = int(tracks.mode[t])
        values["time_signature"] = int(tracks.time_signature[t])
        values["duration_ms"] = int(tracks.duration_ms[t])
        return values

    # relations --------------------------------------------------------------------------
    def own_album_range(self, a: int) -> range:
        return range(int(self.artists.album_start[a]), int(self.artists.album_start[a + 1]))

    def own_track_range(self, a: int) -> range:
        albums = self.own_album_range(a)
        start = self.albums.track_start
        return range(int(start[albums.start]), int(start[albums.stop]))

    def album_indexes(self, a: int, groups: tuple[str, ...] = ALBUM_GROUPS) -> list[int]:
        """The artist's albums in the albums endpoint's order: by group, newest first."""
        own_range = self.own_album_range(a)
        own = np.arange(own_range.start, own_range.stop)
        appears = self.artists.appears_on[
            self.artists.appears_start[a] : self.artists.appears_start[a + 1]
        ]
        group = np.concatenate(
            [self.albums.album_type[own], np.full(len(appears), ALBUM_GROUPS.index("appears_on"))]
        )
        candidates = np.concatenate([own, appears]).astype(np.int64)
        wanted = np.isin(group, [ALBUM_GROUPS.index(g) for g in groups])
        candidates, group = candidates[wanted], group[wanted]
        albums = self.albums
        released = (
            albums.year[candidates].astype(np.int64) * 10_000
            + albums.month[candidates].astype(np.int64) * 100
            + albums.day[candidates]
        )
        order = np.lexsort((candidates, -released, group))
        return [int(j) for j in candidates[order]]

    def album_group(self, a: int, j: int) -> str:
        return self.album_type(j) if int(self.albums.artist[j]) == a else "appears_on"

    def top_track_indexes(self, a: int) -> list[int]:
        """The artist's 10 most popular tracks, ties by id."""
        tracks = self.own_track_range(a)
        index = np.arange(tracks.start, tracks.stop)
        order = np.lexsort((index, -self.tracks.popularity[index].astype(np.int16)))
        return [int(t) for t in index[order[:TOP_TRACKS]]]

    @functools.cached_property
    def _similarity_space(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Artist centres min-max normalised, and each genre's artists that have tracks."""
        columns = [vocab.FEATURES.index(f) for f in DEFAULT_VECTOR_FEATURES]
        centres = self.artists.centres[:, columns].astype(np.float64)
        low, high = centres.min(axis=0), centres.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        has_tracks = np.diff(self.artists.album_start) > 0
        primary = self.artists.genres[:, 0]
        members = [np.flatnonzero((primary == g) & has_tracks) for g in range(len(self.genres))]
        return (centres - low) / span, members

    def _related_indexes(self, a: int) -> tuple[int, ...]:
        vectors, members = self._similarity_space
        same = members[self.artists.genres[a, 0]]
        same = same[same != a]
        distance = np.linalg.norm(vectors[same] - vectors[a], axis=1)
        order = np.lexsort((same, distance))
        return tuple(int(b) for b in same[order[:RELATED_ARTISTS]])

    def _search_indexes(self, query: str) -> tuple[int, ...]:
        """Artists whose name contains every word of the query (case- and width-insensitive):
        exact name matches first, then by popularity, then by id."""
        words = normalise_name(query).split()
        if not words:
            return ()
        phrase = " ".join(words)
        names = self.artists.normalised
        found = list(range(len(names)))
        for word in words:  # one pass per word: far faster than all(...) per name
            found = [a for a in found if word in names[a]]
        hits = np.array(found, dtype=np.int64)
        inexact = np.array([names[a] != phrase for a in found], dtype=bool)  # exact sorts first
        popularity = self.artists.popularity[hits].astype(np.int16)
        return tuple(int(a) for a in hits[np.lexsort((hits, -popularity, inexact))])

    # the public, id-based view ------------------------------------------------------------
    def artist_ids(self) -> list[str]:
        return [i.decode() for i in self.artists.ids]

    def artist_names(self) -> list[str]:
        """Every artist's name, in the order of `artist_ids()`."""
        return list(self.artists.names)

    def seed_names(self, n: int | None = None) -> list[str]:
        """The names `tunelake run` ingests by default: each distinct name once, in catalog
        order (shared names included: discovery must record their ambiguity)."""
        names = list(dict.fromkeys(self.artists.names))
        return names if n is None else names[:n]

    def artist(self, artist_id: str) -> ArtistRecord:
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return ArtistRecord(
            artist_id=artist_id,
            name=self.artists.names[a],
            genres=tuple(self.artist_genres(a)),
            popularity=int(self.artists.popularity[a]),
            followers=int(self.artists.followers[a]),
            image_url=self.image_urls("artist", a)[0][1],
        )

    def genre_of(self, artist_id: str) -> str:
        """The artist's primary genre: the one its sound was drawn from."""
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return self.genres[self.artists.genres[a, 0]]

    def find_artists(self, name: str) -> list[str]:
        """Ids of the artists called exactly `name` (after normalisation), most popular first."""
        target = normalise_name(name)
        hits = self.search_indexes(name)
        return [self.artist_id(a) for a in hits if self.artists.normalised[a] == target]

    def search(self, query: str) -> list[str]:
        """Artist ids in the order the search endpoint returns them."""
        return [self.artist_id(a) for a in self.search_indexes(query)]

    def album(self, album_id: str) -> Album:
        j = self._require("album", self.album_index(album_id), album_id)
        date, precision = self.release_date(j)
        tracks = self.album_track_range(j)
        return Album(
            album_id=album_id,
            name=self.album_name(j),
            artist_id=self.artist_id(int(self.albums.artist[j])),
            album_type=self.album_type(j),
            release_date=date,
            release_date_precision=precision,
            total_tracks=len(tracks),
            track_ids=tuple(self.track_id(t) for t in tracks),
        )

    def album_ids(self, artist_id: str, groups: tuple[str, ...] = ALBUM_GROUPS) -> list[str]:
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return [self.album_id(j) for j in self.album_indexes(a, groups)]

    def track(self, track_id: str) -> Track:
        t = self._require("track", self.track_index(track_id), track_id)
        j = int(self.tracks.album[t])
        return Track(
            track_id=track_id,
            name=self.track_name(t),
            artist_id=self.artist_id(self.track_artist(t)),
            album_id=self.album_id(j),
            album_name=self.album_name(j),
            release_date=self.release_date(j)[0],
            duration_ms=int(self.tracks.duration_ms[t]),
            explicit=bool(self.tracks.explicit[t]),
            popularity=int(self.tracks.popularity[t]),
            isrc=self.isrc(t),
            preview_url=self.preview_url(t),
        )

    def track_ids(self, artist_id: str) -> list[str]:
        """Every track on the artist's own albums."""
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return [self.track_id(t) for t in self.own_track_range(a)]

    def audio_features(self, track_id: str) -> AudioFeatures | None:
        t = self._require("track", self.track_index(track_id), track_id)
        values = self.feature_values(t)
        return (
            None
            if values is None
            else AudioFeatures.model_validate({"track_id": track_id, **values})
        )

    def top_tracks(self, artist_id: str) -> list[str]:
        """The track ids the top-tracks endpoint answers, best first."""
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return [self.track_id(t) for t in self.top_track_indexes(a)]

    def related_artists(self, artist_id: str) -> list[str]:
        """The related-artists endpoint's answer: nearest artists of the same genre."""
        a = self._require("artist", self.artist_index(artist_id), artist_id)
        return [self.artist_id(b) for b in self.related_indexes(a)]

    def reccobeats_id(self, track_id: str) -> str:
        """The id ReccoBeats gives the track (a UUID, stable for a Spotify id)."""
        self._require("track", self.track_index(track_id), track_id)
        return str(uuid.uuid5(RECCOBEATS_NAMESPACE, track_id))
