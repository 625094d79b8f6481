"""The parsers against every real Spotify recording in tests/fixtures/spotify."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.fixtures import SPOTIFY
from tunelake.sources.credentials import parse_token
from tunelake.sources.errors import PayloadError
from tunelake.sources.http import api_message
from tunelake.sources.parse import (
    Album,
    album_page,
    album_tracks_page,
    artist_list,
    audio_features_list,
    parse_artist,
    parse_audio_features,
    parse_reccobeats_features,
    parse_track,
    reccobeats_list,
    search_page,
    track_list,
)

FIXTURES = SPOTIFY


def load(name: str) -> Any:
    path = FIXTURES / f"{name}.json"
    assert path.is_file(), f"the Spotify recordings are expected at {FIXTURES}"
    return json.loads(path.read_text())


def as_2026(obj: dict[str, Any]) -> dict[str, Any]:
    """The same object as 2026 development mode sends it: no popularity/followers/genres."""
    return {k: v for k, v in obj.items() if k not in ("popularity", "followers", "genres")}


def test_every_recording_is_covered() -> None:
    covered = {
        "albums_several", "artist_albums_page", "artist_get", "artist_get_2",
        "artist_related_artists", "artist_top_tracks", "artist_top_tracks_2", "artists_several",
        "artists_several_2", "audio_features_several", "audio_features_several_2",
        "audio_features_single", "error_400_accounts_invalid_client", "error_401_expired_token",
        "error_403_webapi", "error_429_quota_documented", "search_artist",
        "search_artist_offset10_limit10", "token_client_credentials", "track_get",
        "tracks_several",
    }  # fmt: skip
    assert {p.stem for p in FIXTURES.glob("*.json")} - {"SOURCES"} == covered


def test_artist_2014_payload() -> None:
    artist = parse_artist(load("artist_get"))
    assert artist.artist_id == "7Ln80lUS6He07XvHI8qqHH"
    assert artist.name == "Arctic Monkeys"
    assert artist.genres == ()
    assert (artist.popularity, artist.followers) == (73, 1469386)
    assert artist.image_url == "https://i.scdn.co/image/fa2e9ca1a27695ae7f8013350d9a53e11d523ece"


def test_artist_reserialised_without_followers_href() -> None:
    artist = parse_artist(load("artist_get_2"))
    assert artist.name == "Radiohead"
    assert artist.followers == 5471852
    assert "art rock" in (artist.genres or ())


def test_artist_2026_payload_has_none_for_removed_fields() -> None:
    artist = parse_artist(as_2026(load("artist_get")))
    assert (artist.genres, artist.popularity, artist.followers) == (None, None, None)
    assert artist.name == "Arctic Monkeys"


def test_several_artists_with_and_without_followers() -> None:
    (bowie,) = artist_list(load("artists_several"), "artists")
    assert bowie.followers is None and bowie.popularity is not None
    both = artist_list(load("artists_several_2"), "artists")
    assert [a.followers for a in both] == [633494, 52338]


def test_unknown_ids_in_several_artists_are_left_out() -> None:
    body = load("artists_several_2")
    body["artists"].insert(1, None)
    assert len(artist_list(body, "artists")) == 2


def test_related_artists() -> None:
    related = artist_list(load("artist_related_artists"), "related_artists")
    assert len(related) == 20
    assert related[0].name == "Jake Bugg"


def test_search_pages() -> None:
    first = search_page(load("search_artist"))
    assert first.items[0].artist_id == "7Ln80lUS6He07XvHI8qqHH"
    assert len(first.items) == 20 and first.total == 127 and first.offset == 0
    assert first.next is not None and "offset=20" in first.next
    second = search_page(load("search_artist_offset10_limit10"))
    assert second.offset == 10 and len(second.items) == 10
    assert second.items[0].image_url is None  # `images: []`


def test_top_tracks() -> None:
    tracks = track_list(load("artist_top_tracks"), "top_tracks")
    assert len(tracks) == 10
    first = tracks[0]
    assert first.track_id == "3jfr0TF6DQcOLat8gGn7E2"
    assert first.artist_id == "7Ln80lUS6He07XvHI8qqHH"
    assert (first.album_id, first.album_name) == ("5bU1XKYxHhEwukllT20xtk", "AM")
    assert first.release_date is None  # the 2014 nested album had no date
    assert (first.isrc, first.popularity, first.duration_ms) == ("GBCEL1300362", 86, 272394)
    assert first.explicit is False
    (elvis,) = track_list(load("artist_top_tracks_2"), "top_tracks")
    assert elvis.album_name == "Blue Hawaii" and elvis.artist_id == "43ZHCT0cAZBISjO8DG9PnE"


def test_primary_artist_is_the_first_listed() -> None:
    body = load("track_get")
    body["artists"] = [{"id": "0000000000000000000001", "name": "Guest"}, *body["artists"]]
    assert parse_track(body).artist_id == "0000000000000000000001"


def test_track_with_null_preview_and_no_popularity() -> None:
    body = as_2026(load("track_get"))
    body["preview_url"] = None
    track = parse_track(body)
    assert track.preview_url is None and track.popularity is None
    assert track.name == "Do I Wanna Know?"


def test_several_tracks() -> None:
    tracks = track_list(load("tracks_several"), "tracks")
    assert [t.name for t in tracks] == ["Mr. Brightside", "Somebody Told Me"]
    assert tracks[0].album_name == "Hot Fuss (Deluxe Version)"


def test_album_listing_and_album_tracks() -> None:
    albums = album_page(load("artist_albums_page"))
    assert albums.total == 148 and len(albums.items) == 20 and albums.next
    assert albums.items[0] == Album("41vPD50kQ7JeamkxQW7Vuy", "AM", None)
    album = load("albums_several")["albums"][0]
    listing = Album(album["id"], album["name"], album["release_date"])
    page = album_tracks_page(album["tracks"], listing)
    assert page.next is None and [t.name for t in page.items][:1] == ["Everybody's Changing"]
    # simplified tracks get the album's fields from the listing
    assert {(t.album_id, t.release_date) for t in page.items} == {
        ("41MnTivkwTO3UUJ8DrqEJJ", "2013-11-08")
    }
    assert all(t.popularity is None and t.isrc is None for t in page.items)


def test_audio_features_integer_zero_and_null_entries() -> None:
    body = load("audio_features_several")
    body["audio_features"].insert(1, None)  # what the API answers for an unknown id
    features = audio_features_list(body)
    assert [f.track_id for f in features] == [
        "1zHlj4dQ8ZAtrayhuDDmkY",
        "7ouMYWpwJ422jRcDASZB7P",
        "4VqPOruhp5EdPBeR92t6lQ",
    ]
    assert features[0].instrumentalness == 0.0
    assert isinstance(features[0].instrumentalness, float)
    assert features[0].source == "spotify"
    assert len(audio_features_list(load("audio_features_several_2"))) == 3


def test_single_audio_features() -> None:
    features = parse_audio_features(load("audio_features_single"))
    assert features.track_id == "3jfr0TF6DQcOLat8gGn7E2"
    assert (features.tempo, features.time_signature, features.key) == (85.03, 4, 5)


def _reccobeats_shape(spotify: dict[str, Any]) -> dict[str, Any]:
    """A Spotify features object as ReccoBeats serves it: its own id, the track in href."""
    values = {k: spotify[k] for k in ("danceability", "energy", "tempo", "instrumentalness")}
    return {
        "id": "5c0b7f1c-0000-4000-8000-000000000000",
        "href": f"https://open.spotify.com/track/{spotify['id']}",
        **values,
    }


def test_reccobeats_takes_the_spotify_id_from_href() -> None:
    spotify = load("audio_features_single")
    features = parse_reccobeats_features(_reccobeats_shape(spotify))
    assert features.track_id == "3jfr0TF6DQcOLat8gGn7E2"
    assert features.source == "reccobeats"
    assert features.tempo == 85.03 and features.key is None
    body = {
        "content": [_reccobeats_shape(f) for f in load("audio_features_several")["audio_features"]]
    }
    assert len(reccobeats_list(body)) == 3


def test_reccobeats_without_a_track_href_is_a_payload_error() -> None:
    bad = _reccobeats_shape(load("audio_features_single")) | {"href": "https://example.org/x"}
    with pytest.raises(PayloadError, match="href"):
        parse_reccobeats_features(bad)


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("error_401_expired_token", 401, "The access token expired"),
        ("error_403_webapi", 403, "You cannot create a playlist for another user."),
        ("error_429_quota_documented", 429, "Too many requests"),
        ("error_400_accounts_invalid_client", 400, "invalid_client: Invalid client"),
    ],
)
def test_error_shapes(name: str, status: int, message: str) -> None:
    assert api_message(httpx.Response(status, json=load(name))) == message


def test_empty_429_body_falls_back_to_the_reason_phrase() -> None:
    assert api_message(httpx.Response(429, content=b"")) == "Too Many Requests"


def test_token_payload() -> None:
    token, lifetime = parse_token(load("token_client_credentials"))
    assert lifetime == 3600.0
    assert "REDACTED" not in repr(token) and token.get_secret_value().startswith("REDACTED")


def test_a_token_payload_error_never_echoes_the_token() -> None:
    body = load("token_client_credentials") | {"expires_in": "soon"}
    with pytest.raises(PayloadError, match="expires_in") as caught:
        parse_token(body)
    assert "REDACTED" not in str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "endpoint", "field"),
    [
        (lambda b: b["tracks"][0].pop("id"), "top_tracks", "tracks.0.id"),
        (lambda b: b["tracks"][2].update(artists=[]), "top_tracks", "tracks.2.artists"),
        (lambda b: b["tracks"][0].update(duration_ms="long"), "top_tracks", "tracks.0.duration_ms"),
        (lambda b: b.pop("tracks"), "top_tracks", "tracks"),
    ],
)
def test_payload_errors_name_endpoint_and_field(mutate: Any, endpoint: str, field: str) -> None:
    body = copy.deepcopy(load("artist_top_tracks"))
    mutate(body)
    with pytest.raises(PayloadError) as caught:
        track_list(body, endpoint)
    assert (caught.value.endpoint, caught.value.field) == (endpoint, field)
    assert endpoint in str(caught.value) and field in str(caught.value)


def test_a_body_of_the_wrong_kind_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"search payload .* 'artists'"):
        search_page(load("artist_get"))
    with pytest.raises(PayloadError, match="audio_features"):
        audio_features_list(["not", "an", "object"])
