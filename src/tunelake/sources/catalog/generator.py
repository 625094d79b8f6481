"""Draw a deterministic catalog from a seed: artists, albums, tracks and audio features.

Everything is drawn column-wise with NumPy, so 100,000 artists (about 2.7 million tracks) take
seconds. Sound: each genre has a feature profile (`vocab.GENRES`); an artist's centre is drawn
near its primary genre's profile and its tracks scatter around that centre, so artists of one
genre are nearer each other than artists of other genres.
"""

from __future__ import annotations

import numpy as np

from tunelake.sources.catalog import naming, vocab
from tunelake.sources.catalog.model import Albums, Artists, Catalog, Tracks

__all__ = ["Catalog", "generate_catalog"]

BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NO_TRACKS_FRACTION = 0.01
NO_FEATURES_FRACTION = 0.01
SHARED_NAME_FRACTION = 0.005
FEATURED_FRACTION = 0.04


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random 22-character base62 ids, ascending.

    An id is two random 64-bit halves written as 11 base62 digits each; the first halves are
    distinct and sorted. Fixed-width digits over an alphabet in ASCII order keep numeric order,
    so the strings come out sorted without sorting strings (many times slower).
    """
    top = np.iinfo(np.uint64).max
    hi = np.sort(rng.integers(0, top, size=n, dtype=np.uint64, endpoint=True))
    while (repeated := hi[1:] == hi[:-1]).any():  # odds about n**2 / 2**65
        hi[1:][repeated] = rng.integers(0, top, size=int(repeated.sum()), dtype=np.uint64)
        hi.sort()
    lo = rng.integers(0, top, size=n, dtype=np.uint64, endpoint=True)
    digits = np.empty((n, 22), dtype=np.uint8)
    base = np.uint64(62)
    for first, half in ((0, hi), (11, lo)):
        for position in range(first + 10, first - 1, -1):
            digits[:, position] = half % base
            half = half // base
    return np.frombuffer(BASE62, dtype=np.uint8)[digits].view("S22").ravel()


def _exact_fraction(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """A mask with round(fraction * n) set (at least one once n reaches 1/fraction)."""
    count = max(1, round(fraction * n)) if n * fraction >= 1 else 0
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=count, replace=False)] = True
    return mask


def _clip_features(values: np.ndarray) -> np.ndarray:
    low = np.array([vocab.FEATURE_BOUNDS[f][0] for f in vocab.FEATURES])
    high = np.array([vocab.FEATURE_BOUNDS[f][1] for f in vocab.FEATURES])
    return np.clip(values, low, high)


def _spread(table: dict[str, float]) -> np.ndarray:
    return np.array([table[f] for f in vocab.FEATURES])


def _generate_artists(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    n_genres = len(vocab.GENRES)
    primary = rng.integers(0, n_genres, size=n)
    extra = (primary[:, None] + rng.integers(1, n_genres, size=(n, 2))) % n_genres
    n_extra = rng.choice(3, size=n, p=[0.4, 0.4, 0.2])
    extra[n_extra < 1, 0] = -1
    extra[(n_extra < 2) | (extra[:, 1] == extra[:, 0]), 1] = -1
    genres = np.column_stack([primary, extra]).astype(np.int8)
    popularity = np.clip(np.rint(rng.beta(2.0, 3.5, size=n) * 100), 0, 100).astype(np.uint8)
    followers = np.rint(10 ** (2 + popularity / 100 * 5.5 + rng.normal(0, 0.35, n))).astype(
        np.int64
    )
    profiles = np.array([g.profile for g in vocab.GENRES])
    centres = _clip_features(
        profiles[primary]
        + rng.normal(0, 1, (n, len(vocab.FEATURES))) * _spread(vocab.ARTIST_SPREAD)
    ).astype(np.float32)
    return genres, popularity, followers, centres


def generate_catalog(seed: int = 42, n_artists: int = 1000) -> Catalog:
    """The catalog for `seed`: the same seed and size always give the same catalog."""
    if n_artists < 1:
        raise ValueError(f"n_artists must be at least 1, got {n_artists}")
    r_artists, r_names, r_albums, r_tracks, r_ids = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    n = n_artists
    genres, popularity, followers, centres = _generate_artists(r_artists, n)
    names, normalised = naming.artist_names(
        r_names, n, shared=max(2, round(SHARED_NAME_FRACTION * n))
    )
    silent = _exact_fraction(r_artists, n, NO_TRACKS_FRACTION)

    # albums: contiguous per artist
    n_albums = np.where(silent, 0, np.minimum(1 + r_albums.poisson(2.2, n), 12))
    album_start = np.concatenate([[0], np.cumsum(n_albums)]).astype(np.int64)
    m = int(album_start[-1])
    album_artist = np.repeat(np.arange(n, dtype=np.int32), n_albums)
    album_type = r_albums.choice(3, size=m, p=[0.5, 0.35, 0.15]).astype(np.uint8)
    low_high = np.array([(7, 16), (1, 4), (10, 21)])[album_type]
    n_tracks = r_albums.integers(low_high[:, 0], low_high[:, 1])
    year = np.maximum(2025 - np.floor(r_albums.exponential(12.0, m)), 1960).astype(np.int16)
    month = r_albums.integers(1, 13, m).astype(np.int8)
    day = r_albums.integers(1, 29, m).astype(np.int8)
    precision = r_albums.choice(3, size=m, p=[0.85, 0.03, 0.12]).astype(np.uint8)
    album_popularity = np.clip(
        popularity[album_artist].astype(np.int16) + np.rint(r_albums.normal(0, 10, m)), 0, 100
    ).astype(np.uint8)
    region = np.where(
        r_albums.random(m) < 0.15, r_albums.integers(0, len(vocab.REGIONS), m), -1
    ).astype(np.int8)
    track_start = np.concatenate([[0], np.cumsum(n_tracks)]).astype(np.int64)

    # tracks: contiguous per album
    t_count = int(track_start[-1])
    track_album = np.repeat(np.arange(m, dtype=np.int32), n_tracks)
    position = np.arange(t_count) - track_start[track_album]
    total = n_tracks[track_album]
    half = (total + 1) // 2
    two_discs = total >= 16  # long compilations come on two discs
    second = two_discs & (position >= half)
    disc_number = (1 + second).astype(np.int8)
    track_number = (position - np.where(second, half, 0) + 1).astype(np.int16)
    artist = album_artist[track_album]
    primary = genres[artist, 0]
    duration = np.clip(r_tracks.normal(215_000, 45_000, t_count), 60_000, 900_000).astype(np.int32)
    explicit_rate = np.array([g.explicit for g in vocab.GENRES])[primary]
    explicit = r_tracks.random(t_count) < explicit_rate
    track_popularity = np.clip(
        popularity[artist].astype(np.int16) + np.rint(r_tracks.normal(-5, 12, t_count)), 0, 100
    ).astype(np.uint8)
    has_preview = r_tracks.random(t_count) >= 0.3
    featured = _featured_artists(r_tracks, artist, genres[:, 0], n_albums > 0)
    has_features = ~_exact_fraction(r_tracks, t_count, NO_FEATURES_FRACTION)
    features = _clip_features(
        centres[artist]
        + r_tracks.normal(0, 1, (t_count, len(vocab.FEATURES))) * _spread(vocab.TRACK_SPREAD)
    ).astype(np.float32)
    key = np.where(r_tracks.random(t_count) < 0.01, -1, r_tracks.integers(0, 12, t_count))
    major = np.array([g.major for g in vocab.GENRES])[primary]
    mode = (r_tracks.random(t_count) < major).astype(np.int8)
    time_signature = r_tracks.choice([4, 3, 5, 1], size=t_count, p=[0.88, 0.08, 0.03, 0.01])

    appears_start, appears_on = _appearances(n, featured, track_album)
    return Catalog(
        seed,
        Artists(
            ids=_ids(r_ids, n),
            names=names,
            normalised=normalised,
            genres=genres,
            popularity=popularity,
            followers=followers,
            centres=centres,
            album_start=album_start,
            appears_start=appears_start,
            appears_on=appears_on,
        ),
        Albums(
            ids=_ids(r_ids, m),
            artist=album_artist,
            album_type=album_type,
            year=year,
            month=month,
            day=day,
            precision=precision,
            popularity=album_popularity,
            region=region,
            track_start=track_start,
        ),
        Tracks(
            ids=_ids(r_ids, t_count),
            album=track_album,
            track_number=track_number,
            disc_number=disc_number,
            duration_ms=duration,
            explicit=explicit,
            popularity=track_popularity,
            has_preview=has_preview,
            featured=featured,
            has_features=has_features,
            features=features,
            key=key.astype(np.int8),
            mode=mode,
            time_signature=time_signature.astype(np.int8),
        ),
    )


def _featured_artists(
    rng: np.random.Generator, artist: np.ndarray, artist_genre: np.ndarray, has_tracks: np.ndarray
) -> np.ndarray:
    """A second credited artist on a few tracks, from the main artist's genre."""
    featured = np.full(len(artist), -1, dtype=np.int32)
    chosen = rng.random(len(artist)) < FEATURED_FRACTION
    track_genre = artist_genre[artist]
    for g in range(len(vocab.GENRES)):
        members = np.flatnonzero(has_tracks & (artist_genre == g))
        tracks = np.flatnonzero(chosen & (track_genre == g))
        if len(members) > 1:
            featured[tracks] = members[rng.integers(0, len(members), len(tracks))]
    featured[featured == artist] = -1
    return featured


def _appearances(
    n: int, featured: np.ndarray, track_album: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each artist, the albums of others it is featured on (CSR: start offsets, albums)."""
    on = featured >= 0
    pairs = np.unique(np.column_stack([featured[on], track_album[on]]).astype(np.int64), axis=0)
    start = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=n))])
    return start.astype(np.int64), pairs[:, 1].astype(np.int32)
