"""The Web API and ReccoBeats endpoints over a catalog: parameters in, payloads out.

Handlers are synchronous (all data is in memory) and raise ErrorAnswer for every bad request,
with the status and message the real API gives where we know them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from tunelake.ids import is_spotify_id
from tunelake.sources.catalog.model import ALBUM_GROUPS, Catalog
from tunelake.sources.catalog.payloads import Payloads, page
from tunelake.sources.catalog.responses import ErrorAnswer, json_response

SEARCH_OFFSET_CAP = 1000
MARKET = re.compile(r"[A-Z]{2}|from_token")
#: Limits of each profile's search page size: (default, maximum).
SEARCH_LIMITS = {"extended": (20, 50), "development": (5, 10)}
ARTIST_FILTER = re.compile(r'artist:\s*("([^"]*)"|(\S+))', re.IGNORECASE)

Handler = Callable[[Request], Response]


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ErrorAnswer(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise ErrorAnswer(400, f"Invalid {name}")
    return value


def _ids(request: Request, most: int) -> list[str]:
    raw = request.query_params.get("ids", "")
    ids = [i for i in raw.split(",") if i]
    if not ids:
        raise ErrorAnswer(400, "Missing required parameter: ids")
    if len(ids) > most:
        raise ErrorAnswer(400, f"Too many ids requested (at most {most})")
    if not all(is_spotify_id(i) for i in ids):
        raise ErrorAnswer(400, "invalid id")
    return ids


def _market(request: Request) -> None:
    market = request.query_params.get("market") or request.query_params.get("country")
    if market is not None and not MARKET.fullmatch(market):
        raise ErrorAnswer(400, "Invalid market code")


def _search_terms(q: str) -> str:
    """The name part of a search query: `artist:"A B"` and `artist:A` filters become A B."""
    return ARTIST_FILTER.sub(lambda m: m.group(2) or m.group(3) or "", q).strip()


class Endpoints:
    def __init__(self, catalog: Catalog, profile: str) -> None:
        self.catalog = catalog
        self.profile = profile
        self.payloads = Payloads(catalog, profile)

    # lookups ----------------------------------------------------------------------------
    def _one(self, request: Request, find: Callable[[str], int | None]) -> int:
        entity_id = request.path_params["id"]
        if not is_spotify_id(entity_id):
            raise ErrorAnswer(400, "invalid id")
        index = find(entity_id)
        if index is None:
            raise ErrorAnswer(404, "Resource not found")
        return index

    def _artist_index(self, request: Request) -> int:
        return self._one(request, self.catalog.artist_index)

    def _extended_only(self, what: str) -> None:
        if self.profile != "extended":
            raise ErrorAnswer(403, f"{what} is not available to apps in development mode")

    # artists ----------------------------------------------------------------------------
    def artist(self, request: Request) -> Response:
        return json_response(self.payloads.artist(self._artist_index(request)))

    def several_artists(self, request: Request) -> Response:
        self._extended_only("Get Several Artists")
        found = (self.catalog.artist_index(i) for i in _ids(request, 50))
        artists = [None if a is None else self.payloads.artist(a) for a in found]
        return json_response({"artists": artists})

    def top_tracks(self, request: Request) -> Response:
        self._extended_only("Get Artist's Top Tracks")
        a = self._artist_index(request)
        _market(request)
        tracks = [self.payloads.track(t) for t in self.catalog.top_track_indexes(a)]
        return json_response({"tracks": tracks})

    def artist_albums(self, request: Request) -> Response:
        a = self._artist_index(request)
        params = request.query_params
        raw_groups = params.get("include_groups") or params.get("album_type") or ""
        groups = tuple(g for g in raw_groups.split(",") if g) or ALBUM_GROUPS
        unknown = set(groups) - set(ALBUM_GROUPS)
        if unknown:
            raise ErrorAnswer(400, f"Invalid include_groups value: {','.join(sorted(unknown))}")
        _market(request)
        limit = _int(request, "limit", 20, 1, 50)
        offset = _int(request, "offset", 0, 0, 1_000_000)
        albums = self.catalog.album_indexes(a, groups)
        items = [self.payloads.artist_album(a, j) for j in albums[offset : offset + limit]]
        href = f"{request.base_url}v1/artists/{self.catalog.artist_id(a)}/albums"
        href += f"?include_groups={','.join(groups)}"
        return json_response(page(items, href, offset, limit, len(albums)))

    def related_artists(self, request: Request) -> Response:
        self._extended_only("Get Artist's Related Artists")
        a = self._artist_index(request)
        related = [self.payloads.artist(b) for b in self.catalog.related_indexes(a)]
        return json_response({"artists": related})

    # albums and tracks ------------------------------------------------------------------
    def album(self, request: Request) -> Response:
        j = self._one(request, self.catalog.album_index)
        _market(request)
        return json_response(self.payloads.album(j))

    def several_albums(self, request: Request) -> Response:
        self._extended_only("Get Several Albums")
        found = (self.catalog.album_index(i) for i in _ids(request, 20))
        return json_response(
            {"albums": [None if j is None else self.payloads.album(j) for j in found]}
        )

    def album_tracks(self, request: Request) -> Response:
        j = self._one(request, self.catalog.album_index)
        _market(request)
        limit = _int(request, "limit", 20, 1, 50)
        offset = _int(request, "offset", 0, 0, 1_000_000)
        tracks = self.catalog.album_track_range(j)
        items = [self.payloads.track_simple(t) for t in tracks[offset : offset + limit]]
        href = f"{request.base_url}v1/albums/{self.catalog.album_id(j)}/tracks"
        return json_response(page(items, href, offset, limit, len(tracks)))

    def track(self, request: Request) -> Response:
        t = self._one(request, self.catalog.track_index)
        _market(request)
        return json_response(self.payloads.track(t))

    def several_tracks(self, request: Request) -> Response:
        self._extended_only("Get Several Tracks")
        found = (self.catalog.track_index(i) for i in _ids(request, 50))
        return json_response(
            {"tracks": [None if t is None else self.payloads.track(t) for t in found]}
        )

    def audio_features(self, request: Request) -> Response:
        self._extended_only("Get Track's Audio Features")
        features = self.payloads.audio_features(self._one(request, self.catalog.track_index))
        if features is None:
            raise ErrorAnswer(404, "analysis not found")
        return json_response(features)

    def several_audio_features(self, request: Request) -> Response:
        self._extended_only("Get Several Tracks' Audio Features")
        found = (self.catalog.track_index(i) for i in _ids(request, 100))
        features = [None if t is None else self.payloads.audio_features(t) for t in found]
        return json_response({"audio_features": features})

    # search -----------------------------------------------------------------------------
    def search(self, request: Request) -> Response:
        params = request.query_params
        q = params.get("q", "").strip()
        if not q:
            raise ErrorAnswer(400, "No search query")
        types = [t for t in params.get("type", "").split(",") if t]
        if not types:
            raise ErrorAnswer(400, "Missing parameter type")
        if types != ["artist"]:
            raise ErrorAnswer(
                400, f"Unsupported search type {','.join(types)}: this catalog searches type=artist"
            )
        default, most = SEARCH_LIMITS[self.profile]
        limit = _int(request, "limit", default, 1, most)
        offset = _int(request, "offset", 0, 0, SEARCH_OFFSET_CAP)
        if offset + limit > SEARCH_OFFSET_CAP:
            raise ErrorAnswer(400, "Invalid offset")
        hits = self.catalog.search_indexes(_search_terms(q))
        items = [self.payloads.artist(a) for a in hits[offset : offset + limit]]
        href = str(
            request.url.include_query_params(type="artist").remove_query_params(["offset", "limit"])
        )
        # pages past the offset cap cannot be fetched, so paging stops there as Spotify's does
        total = min(len(hits), SEARCH_OFFSET_CAP)
        return json_response(
            {"artists": {**page(items, href, offset, limit, total), "total": len(hits)}}
        )

    # ReccoBeats -------------------------------------------------------------------------
    def reccobeats_audio_features(self, request: Request) -> Response:
        found = (self.catalog.track_index(i) for i in _ids(request, 40))
        content = [self.payloads.reccobeats_features(t) for t in found if t is not None]
        return json_response({"content": [c for c in content if c is not None]})
