"""Raw responses and replay, from recorded payloads (the client's half is in test_client.py)."""

from __future__ import annotations

import pytest

from tunelake.models import TopTrack, Track
from tunelake.sources.errors import PayloadError
from tunelake.sources.parse import Album
from tunelake.sources.raw_responses import RawResponse
from tunelake.sources.replay import choose_top_tracks, newest_first, replay

from .test_parse import load


def track(track_id: str, album: Album, popularity: int | None = None) -> Track:
    return Track(
        track_id=track_id,
        name=track_id,
        artist_id="a",
        album_id=album.album_id,
        release_date=album.release_date,
        popularity=popularity,
    )


OLD = Album("old", "Old", "2001")
NEW = Album("new", "New", "2020-05-01")
UNDATED = Album("undated", "Undated", None)
MID = Album("mid", "Mid", "2010-01-01")


def test_newest_first_keeps_the_api_order_among_equals() -> None:
    twin = Album("twin", "Twin", "2020-05-01")
    assert newest_first([OLD, UNDATED, NEW, MID, twin]) == [NEW, twin, MID, OLD, UNDATED]


def test_without_popularity_the_newest_releases_win() -> None:
    albums = [OLD, NEW, MID]
    listing = {a.album_id: [track(f"{a.album_id}{i}", a) for i in range(6)] for a in albums}
    chosen = choose_top_tracks(albums, listing, {})
    assert [t.track_id for t in chosen] == [
        *(f"new{i}" for i in range(6)),
        "mid0",
        "mid1",
        "mid2",
        "mid3",
    ]


def test_with_popularity_the_most_popular_win() -> None:
    listing = {OLD.album_id: [track("o1", OLD), track("o2", OLD)], NEW.album_id: [track("n1", NEW)]}
    full = {"o1": track("o1", OLD, 90), "o2": track("o2", OLD, 10), "n1": track("n1", NEW, 50)}
    chosen = choose_top_tracks([OLD, NEW], listing, full, n=2)
    assert chosen == [full["o1"], full["n1"]]


def test_a_track_on_two_albums_counts_once_and_unfetched_albums_are_skipped() -> None:
    listing = {NEW.album_id: [track("x", NEW), track("y", NEW)], MID.album_id: [track("x", MID)]}
    chosen = choose_top_tracks([MID, NEW, OLD], listing, {})
    assert [(t.track_id, t.album_id) for t in chosen] == [("x", "new"), ("y", "new")]


def raw(
    endpoint: str, request: str, body: object, at: str = "2026-01-01T00:00:00.000+00:00"
) -> RawResponse:
    return RawResponse(endpoint=endpoint, request=request, status=200, fetched_at=at, body=body)


def test_record_round_trip() -> None:
    response = raw("search", "/v1/search?q=Arctic&type=artist", load("search_artist"))
    assert RawResponse.from_record(response.to_record()) == response


def test_a_record_without_its_fields_is_a_clear_error() -> None:
    with pytest.raises(PayloadError, match="lacks status, fetched_at"):
        RawResponse.from_record({"endpoint": "search", "request": "/v1/search", "body": {}})
    with pytest.raises(PayloadError, match="unknown endpoint 'charts'"):
        RawResponse.from_record(raw("search", "/", {}).to_record() | {"endpoint": "charts"})


def test_replay_of_recorded_responses_deduplicates() -> None:
    arctic = "7Ln80lUS6He07XvHI8qqHH"
    responses = [
        raw("search", "/v1/search?q=Arctic&type=artist", load("search_artist")),
        raw(
            "artist",
            f"/v1/artists/{arctic}",
            load("artist_get"),
            at="2026-01-02T00:00:00.000+00:00",
        ),
        raw("top_tracks", f"/v1/artists/{arctic}/top-tracks?market=US", load("artist_top_tracks")),
        raw("top_tracks", f"/v1/artists/{arctic}/top-tracks?market=US", load("artist_top_tracks")),
        raw("audio_features", "/v1/audio-features?ids=...", load("audio_features_several")),
        raw("audio_features", "/v1/audio-features?ids=...", load("audio_features_several")),
    ]
    extracted = replay(responses)
    assert len(extracted.artists) == 20
    # the later fetch of the same artist wins (GET /artists/{id} was fetched after search)
    assert next(a for a in extracted.artists if a.artist_id == arctic).popularity == 73
    assert len(extracted.tracks) == 10 and len(extracted.top_tracks) == 10
    assert extracted.top_tracks[0] == TopTrack(
        artist_id=arctic, track_id="3jfr0TF6DQcOLat8gGn7E2", rank=1
    )
    assert len(extracted.audio_features) == 3


def test_replay_needs_the_artist_in_the_request() -> None:
    with pytest.raises(PayloadError, match="does not name its artist"):
        replay([raw("top_tracks", "/v1/top-tracks", load("artist_top_tracks"))])
