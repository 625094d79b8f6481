"""The generated catalog: deterministic, well-formed, and with the sound the similarity step needs."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np
import pytest

from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.sources.catalog import vocab
from tunelake.sources.catalog.generator import generate_catalog
from tunelake.sources.catalog.model import Catalog

BASE62_ID = re.compile(r"[0-9A-Za-z]{22}")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return generate_catalog(42, 1000)


def snapshot(c: Catalog, artists: int = 25) -> list[object]:
    """Enough of a catalog to tell two apart: artists with their tracks and features."""
    out: list[object] = []
    for artist_id in c.artist_ids()[:artists]:
        out.append(c.artist(artist_id))
        for track_id in c.track_ids(artist_id):
            out += [c.track(track_id), c.audio_features(track_id)]
    return out


def test_same_seed_same_catalog(catalog: Catalog) -> None:
    again = generate_catalog(42, 1000)
    assert again.artist_ids() == catalog.artist_ids()
    assert again.artist_names() == catalog.artist_names()
    assert snapshot(again) == snapshot(catalog)
    assert again.seed_names() == catalog.seed_names()


def test_other_seed_other_catalog(catalog: Catalog) -> None:
    other = generate_catalog(43, 1000)
    assert not set(other.artist_ids()) & set(catalog.artist_ids())
    assert other.artist_names() != catalog.artist_names()


def test_ids_are_22_character_base62_and_unique(catalog: Catalog) -> None:
    for kind in (catalog.artists, catalog.albums, catalog.tracks):
        ids = [i.decode() for i in kind.ids]
        assert all(BASE62_ID.fullmatch(i) for i in ids)
        assert len(set(ids)) == len(ids)
    every = np.concatenate([catalog.artists.ids, catalog.albums.ids, catalog.tracks.ids])
    assert len(np.unique(every)) == len(every)


def test_lookups_round_trip(catalog: Catalog) -> None:
    artist_id = catalog.artist_ids()[7]
    assert catalog.artist(artist_id).artist_id == artist_id
    track_id = catalog.top_tracks(artist_id)[0]
    track = catalog.track(track_id)
    assert track.artist_id == artist_id
    assert track.album_id is not None
    album = catalog.album(track.album_id)
    assert track_id in album.track_ids
    assert album.total_tracks == len(album.track_ids)
    assert track.album_name == album.name
    assert track.album_id in catalog.album_ids(artist_id)
    with pytest.raises(KeyError, match="no artist with id"):
        catalog.artist("0" * 22)
    with pytest.raises(KeyError, match="no track with id"):
        catalog.track("not-an-id")


def test_names_mix_scripts_and_some_are_shared(catalog: Catalog) -> None:
    names = catalog.artist_names()
    scripts = Counter(
        next(
            (unicodedata.name(ch).split()[0] for ch in name if ch.isalpha() and not ch.isascii()),
            "ASCII",
        )
        for name in names
    )
    assert {"HANGUL", "CJK", "KATAKANA", "LATIN"} <= set(scripts)  # LATIN: accented letters
    assert scripts["ASCII"] > len(names) / 2
    shared = [n for n, count in Counter(names).items() if count > 1]
    assert len(shared) >= 2
    assert len(catalog.find_artists(shared[0])) >= 2
    seeds = catalog.seed_names()
    assert len(seeds) == len(set(seeds)) == len(set(names))
    assert set(shared) <= set(seeds)
    assert catalog.seed_names(10) == seeds[:10]


def test_some_artists_have_no_tracks_and_some_tracks_no_features(catalog: Catalog) -> None:
    silent = [a for a in catalog.artist_ids() if not catalog.track_ids(a)]
    assert 5 <= len(silent) <= 20  # about 1% of 1000
    assert catalog.top_tracks(silent[0]) == []
    assert catalog.album_ids(silent[0], ("album", "single", "compilation")) == []
    tracks = catalog.tracks
    missing = int((~tracks.has_features).sum())
    assert 0.005 * len(tracks.ids) <= missing <= 0.02 * len(tracks.ids)
    track_id = catalog.track_id(int(np.flatnonzero(~tracks.has_features)[0]))
    assert catalog.audio_features(track_id) is None


def test_feature_values_are_in_spotify_ranges(catalog: Catalog) -> None:
    every = (catalog.feature_values(t) for t in range(0, len(catalog.tracks.ids), 7))
    values = [v for v in every if v is not None]
    for name in ("danceability", "energy", "speechiness", "acousticness", "instrumentalness",
                 "liveness", "valence"):  # fmt: skip
        assert all(0 <= v[name] <= 1 for v in values), name
    assert all(-60 <= v["loudness"] <= 0 for v in values)
    assert all(v["tempo"] > 0 for v in values)
    assert {v["key"] for v in values} <= set(range(-1, 12))
    assert {v["mode"] for v in values} == {0, 1}
    assert {v["time_signature"] for v in values} <= {1, 3, 4, 5}
    assert all(v["duration_ms"] > 0 for v in values)


def test_top_tracks_are_the_ten_most_popular_ties_by_id(catalog: Catalog) -> None:
    for artist_id in catalog.artist_ids()[:50]:
        tracks = [catalog.track(t) for t in catalog.track_ids(artist_id)]
        expected = sorted(tracks, key=lambda t: (-(t.popularity or 0), t.track_id))[:10]
        assert catalog.top_tracks(artist_id) == [t.track_id for t in expected]


def test_artists_of_a_genre_sound_alike(catalog: Catalog) -> None:
    """Mean within-genre distance of artists' top-track mean vectors is well below the mean
    between-genre distance (min-max normalised, as the similarity step does)."""
    vectors, genres = [], []
    for artist_id in catalog.artist_ids():
        features = [catalog.audio_features(t) for t in catalog.top_tracks(artist_id)]
        rows = [[getattr(f, name) for name in DEFAULT_VECTOR_FEATURES] for f in features if f]
        if rows:
            vectors.append(np.mean(rows, axis=0))
            genres.append(catalog.genre_of(artist_id))
    v = np.array(vectors)
    v = (v - v.min(axis=0)) / (v.max(axis=0) - v.min(axis=0))
    distance = np.linalg.norm(v[:, None, :] - v[None, :, :], axis=2)
    g = np.array(genres)
    same = g[:, None] == g[None, :]
    off_diagonal = ~np.eye(len(g), dtype=bool)
    within = distance[same & off_diagonal].mean()
    between = distance[~same].mean()
    assert within < 0.5 * between
    assert set(genres) == {genre.name for genre in vocab.GENRES}


def test_related_artists_share_the_genre(catalog: Catalog) -> None:
    for artist_id in catalog.artist_ids()[:20]:
        related = catalog.related_artists(artist_id)
        assert artist_id not in related
        assert len(related) == 20
        assert {catalog.genre_of(r) for r in related} == {catalog.genre_of(artist_id)}


def test_search_puts_exact_names_first_then_popularity(catalog: Catalog) -> None:
    name = catalog.artist_names()[3]
    hits = catalog.search(name.upper())
    assert catalog.artist(hits[0]).name == name
    word = name.split()[-1]
    hits = catalog.search(word)
    exact = [h for h in hits if catalog.artist(h).name.casefold() == word.casefold()]
    rest = hits[len(exact) :]
    assert all(word.casefold() in catalog.artist(h).name.casefold() for h in hits)
    popularity = [catalog.artist(h).popularity or 0 for h in rest]
    assert popularity == sorted(popularity, reverse=True)


def test_a_hundred_thousand_artists_generate() -> None:
    big = generate_catalog(7, 100_000)
    assert len(big) == 100_000
    assert len(big.tracks.ids) > 2_000_000
    artist_id = big.artist_ids()[99_999]
    assert len(big.top_tracks(artist_id)) <= 10
    assert big.artist(artist_id).name == big.artist_names()[99_999]


def test_rejects_an_empty_catalog() -> None:
    with pytest.raises(ValueError, match="n_artists must be at least 1"):
        generate_catalog(1, 0)
