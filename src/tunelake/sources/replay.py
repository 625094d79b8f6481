"""Rebuild, from raw responses alone, the records the client returned when it fetched them.

`tunelake backfill` re-derives the lake from the raw zone this way, without calling the API.
The albums fallback for top tracks is rebuilt with the same pure function the client uses
(`choose_top_tracks`), so a run and its replay agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunelake.ids import SPOTIFY_ID
from tunelake.models import Artist, AudioFeatures, TopTrack, Track
from tunelake.sources.errors import PayloadError
from tunelake.sources.parse import (
    Album,
    Page,
    album_page,
    album_tracks_page,
    artist_list,
    audio_features_list,
    parse_artist,
    reccobeats_list,
    search_page,
    track_list,
)
from tunelake.sources.raw_responses import RawResponse

#: How many top tracks an artist has (what Spotify's top-tracks endpoint returns).
TOP_N = 10


@dataclass(frozen=True)
class Extracted:
    artists: list[Artist]
    tracks: list[Track]
    top_tracks: list[TopTrack]
    audio_features: list[AudioFeatures]


def newest_first(albums: Sequence[Album]) -> list[Album]:
    """Albums by release date, newest first; the API's order among equal or unknown dates."""
    # "2013" < "2013-09" < "2013-09-09": ISO prefixes order as strings
    return sorted(albums, key=lambda a: a.release_date or "", reverse=True)


def choose_top_tracks(
    albums: Sequence[Album],
    album_tracks: Mapping[str, Sequence[Track]],
    full_tracks: Mapping[str, Track],
    n: int = TOP_N,
) -> list[Track]:
    """An artist's top tracks where the top-tracks endpoint is gone: the n most popular of its
    albums' tracks where popularity is known (full_tracks, from /tracks?ids=), else the
    newest releases. Albums whose tracks were not fetched are skipped."""
    candidates: dict[str, Track] = {}
    for album in newest_first(albums):
        for track in album_tracks.get(album.album_id, ()):
            candidates.setdefault(track.track_id, full_tracks.get(track.track_id, track))
    # stable: equal popularity (or none at all) keeps newest-first order
    ranked = sorted(candidates.values(), key=lambda t: (t.popularity is None, -(t.popularity or 0)))
    return ranked[:n]


_PATH_IDS = {
    "top_tracks": re.compile(rf"/artists/({SPOTIFY_ID})/top-tracks"),
    "artist_albums": re.compile(rf"/artists/({SPOTIFY_ID})/albums"),
    "album_tracks": re.compile(rf"/albums/({SPOTIFY_ID})/tracks"),
}


def _path_id(response: RawResponse) -> str:
    match = _PATH_IDS[response.endpoint].search(response.request)
    if match is None:
        raise PayloadError(
            f"{response.endpoint} request {response.request!r} does not name its artist or album",
            endpoint=response.endpoint,
            field="request",
        )
    return match.group(1)


def _offset(body: Any) -> int:
    return body.get("offset", 0) if isinstance(body, dict) else 0


def replay(responses: Iterable[RawResponse]) -> Extracted:
    """Records from raw responses, each id once; where an id was fetched more than once, the
    latest fetch wins."""
    artists: dict[str, Artist] = {}
    top: dict[str, list[Track]] = {}
    album_pages: dict[str, dict[int, Page[Album]]] = defaultdict(dict)
    album_track_bodies: dict[str, dict[int, Any]] = defaultdict(dict)
    full_tracks: dict[str, Track] = {}
    features: dict[str, AudioFeatures] = {}

    for response in sorted(responses, key=lambda r: r.fetched_at):
        endpoint, body = response.endpoint, response.body
        if endpoint == "search":
            found = search_page(body).items
        elif endpoint == "artist":
            found = [parse_artist(body)]
        elif endpoint in ("artists", "related_artists"):
            found = artist_list(body, endpoint)
        else:
            found = []
            if endpoint == "top_tracks":
                top[_path_id(response)] = track_list(body, endpoint)
            elif endpoint == "artist_albums":
                page = album_page(body)
                album_pages[_path_id(response)][page.offset] = page
            elif endpoint == "album_tracks":
                # parsed below, once every album's name and date are known
                album_track_bodies[_path_id(response)][_offset(body)] = body
            elif endpoint == "tracks":
                full_tracks.update((t.track_id, t) for t in track_list(body, endpoint))
            elif endpoint == "audio_features":
                features.update((f.track_id, f) for f in audio_features_list(body))
            elif endpoint == "reccobeats_audio_features":
                features.update((f.track_id, f) for f in reccobeats_list(body))
        artists.update((a.artist_id, a) for a in found)

    albums = {
        album.album_id: album
        for pages in album_pages.values()
        for page in pages.values()
        for album in page.items
    }
    album_tracks = {
        album_id: [
            track
            for _, body in sorted(pages.items())
            for track in album_tracks_page(body, albums[album_id]).items
        ]
        for album_id, pages in album_track_bodies.items()
        if album_id in albums
    }
    for artist_id, pages in album_pages.items():
        if artist_id not in top:  # the endpoint answered: no fallback was needed
            listing = [album for _, page in sorted(pages.items()) for album in page.items]
            top[artist_id] = choose_top_tracks(listing, album_tracks, full_tracks)

    tracks: dict[str, Track] = {}
    top_tracks: list[TopTrack] = []
    for artist_id, ranked in top.items():
        for rank, track in enumerate(ranked, start=1):
            tracks.setdefault(track.track_id, track)
            top_tracks.append(TopTrack(artist_id=artist_id, track_id=track.track_id, rank=rank))
    return Extracted(
        artists=list(artists.values()),
        tracks=list(tracks.values()),
        top_tracks=top_tracks,
        audio_features=list(features.values()),
    )
