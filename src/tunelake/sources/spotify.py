"""The Spotify Web API client: app token, batching, capability probing and fallbacks.

The client adapts to what the app may call. Spotify has been removing endpoints (audio
features and related artists for new apps since 2024-11; top tracks, the several-ids
endpoints and search pages above 10 in 2026 development mode). The first call to such an
endpoint that is answered 403 records it in `capabilities`, and that call and every later
one take the fallback: per-id GETs for several ids, the albums → album tracks walk for top
tracks, ReccoBeats for audio features.

Every successful response is handed to `on_response` (as a RawResponse) before it is parsed,
so the pipeline can land it unchanged; `replay` rebuilds the same records from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx
import structlog
from pydantic import SecretStr

from tunelake.config import Settings
from tunelake.errors import ConfigError
from tunelake.ids import chunks, spotify_ids
from tunelake.models import Artist, AudioFeatures, Track
from tunelake.sources.credentials import ClientCredentials
from tunelake.sources.errors import ApiRefused
from tunelake.sources.http import HttpCore, gather
from tunelake.sources.parse import (
    Album,
    Page,
    album_page,
    album_tracks_page,
    artist_list,
    audio_features_list,
    parse_artist,
    search_page,
    track_list,
)
from tunelake.sources.raw_responses import RawResponse
from tunelake.sources.reccobeats import ReccoBeats
from tunelake.sources.replay import TOP_N, choose_top_tracks, newest_first

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Most ids a several-artists / several-tracks call accepts.
SEVERAL_IDS_BATCH = 50
#: Most ids an audio-features call accepts.
AUDIO_FEATURES_BATCH = 100
#: Largest search page of the full API, and of 2026 development mode.
SEARCH_LIMIT = 50
DEVELOPMENT_SEARCH_LIMIT = 10
#: Page size for album listings and album track listings (the API's maximum).
PAGE_LIMIT = 50

Capability = Literal["top_tracks", "several_ids", "audio_features", "related_artists"]


@dataclass
class Capabilities:
    """What the API lets this app call, learnt from its answers; None: not tried yet."""

    top_tracks: bool | None = None
    several_ids: bool | None = None
    audio_features: bool | None = None
    related_artists: bool | None = None
    search_limit: int | None = None
    """The largest search page the API accepts, once it refused a larger one."""


class SpotifyClient:
    def __init__(
        self,
        *,
        accounts_url: str,
        api_url: str,
        client_id: SecretStr | str,
        client_secret: SecretStr,
        market: str = "US",
        reccobeats_url: str | None = None,
        concurrency: int = 16,
        request_timeout: float = 10.0,
        max_retries: int = 6,
        retry_after_cap: float = 120.0,
        requests_per_second: float | None = None,
        on_response: Callable[[RawResponse], None] | None = None,
    ):
        if not isinstance(client_secret, SecretStr):
            raise TypeError("client_secret must be a pydantic SecretStr, so it never shows")
        self._api = _base_url("api_url", api_url)
        self.market = market
        self.capabilities = Capabilities()
        self._core = HttpCore(
            concurrency=concurrency,
            request_timeout=request_timeout,
            max_retries=max_retries,
            retry_after_cap=retry_after_cap,
            requests_per_second=requests_per_second,
            on_response=on_response,
        )
        self._token = ClientCredentials(
            self._core,
            _base_url("accounts_url", accounts_url) + "/api/token",
            client_id if isinstance(client_id, SecretStr) else SecretStr(client_id),
            client_secret,
        )
        self._reccobeats = (
            ReccoBeats(self._core, _base_url("reccobeats_url", reccobeats_url))
            if reccobeats_url
            else None
        )
        self._probes = {
            name: asyncio.Lock()
            for name in ("top_tracks", "several_ids", "audio_features", "related_artists")
        }

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        accounts_url: str | None = None,
        api_url: str | None = None,
        reccobeats_url: str | None = None,
        on_response: Callable[[RawResponse], None] | None = None,
    ) -> SpotifyClient:
        """A client configured by `settings`; the URL overrides point it at another server
        (the built-in catalog server)."""
        if settings.spotify_client_id is None or settings.spotify_client_secret is None:
            raise ConfigError(
                "Spotify credentials are not set: give TUNELAKE_SPOTIFY_CLIENT_ID and "
                "TUNELAKE_SPOTIFY_CLIENT_SECRET (environment or TUNELAKE_SECRETS_FILE)"
            )
        return cls(
            accounts_url=accounts_url or settings.spotify_accounts_url,
            api_url=api_url or settings.spotify_api_url,
            client_id=settings.spotify_client_id,
            client_secret=settings.spotify_client_secret,
            market=settings.market,
            reccobeats_url=reccobeats_url or settings.reccobeats_url,
            concurrency=settings.concurrency,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            retry_after_cap=settings.retry_after_cap,
            requests_per_second=settings.requests_per_second,
            on_response=on_response,
        )

    def __repr__(self) -> str:
        return f"SpotifyClient(api_url={self._api!r}, market={self.market!r}, {self.capabilities})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._core.aclose()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, token, retries and 429s included."""
        return self._core.requests

    @property
    def throttled(self) -> int:
        """429 answers received so far."""
        return self._core.throttled

    # -- search ----------------------------------------------------------------------------

    async def search_artists(
        self, query: str, *, limit: int = 10, max_results: int | None = None
    ) -> list[Artist]:
        """Artists matching `query`, in the API's order, following pages of `limit` (capped
        at what the API accepts) until `max_results` or the last page."""
        if not query.strip():
            raise ValueError("search query is empty")
        if not 1 <= limit <= SEARCH_LIMIT:
            raise ValueError(f"search limit must be 1 to {SEARCH_LIMIT}, not {limit}")
        if max_results is not None and max_results < 1:
            raise ValueError(f"max_results must be at least 1 or None, not {max_results}")
        size = min(limit, max_results or limit, self.capabilities.search_limit or SEARCH_LIMIT)
        first = await self._first_search_page(query, size)
        return await self._follow("search", first, search_page, max_results)

    async def _first_search_page(self, query: str, size: int) -> RawResponse:
        params = {"q": query, "type": "artist", "limit": size, "offset": 0}
        try:
            return await self._get("search", f"{self._api}/search", params)
        except ApiRefused as exc:
            if exc.status != 400 or size <= DEVELOPMENT_SEARCH_LIMIT:
                raise
        # development mode refuses pages above 10: remember, and ask again
        self.capabilities.search_limit = DEVELOPMENT_SEARCH_LIMIT
        log.info("search pages are limited", limit=DEVELOPMENT_SEARCH_LIMIT)
        params["limit"] = DEVELOPMENT_SEARCH_LIMIT
        return await self._get("search", f"{self._api}/search", params)

    # -- artists ---------------------------------------------------------------------------

    async def get_artists(self, artist_ids: Sequence[str]) -> list[Artist]:
        """The artists of the ids the API knows (unknown ids are left out), each once."""
        ids = spotify_ids(artist_ids, "artist_ids")
        artists, one_by_one = await self._in_batches(
            "several_ids", ids, SEVERAL_IDS_BATCH, self._several_artists
        )
        singles = await gather(*(self._artist(i) for i in one_by_one))
        return artists + [a for a in singles if a is not None]

    async def _several_artists(self, ids: list[str]) -> list[Artist]:
        raw = await self._get("artists", f"{self._api}/artists", {"ids": ",".join(ids)})
        return artist_list(raw.body, "artists")

    async def _artist(self, artist_id: str) -> Artist | None:
        try:
            raw = await self._get("artist", f"{self._api}/artists/{artist_id}")
        except ApiRefused as exc:
            if exc.status in (400, 404):  # as /artists?ids= answers null for it
                return None
            raise
        return parse_artist(raw.body)

    async def related_artists(self, artist_ids: Sequence[str]) -> dict[str, list[Artist]]:
        """Spotify's related artists of each artist; empty where the API no longer has them."""
        ids = spotify_ids(artist_ids, "artist_ids")
        related = await gather(
            *(self._unless_forbidden("related_artists", partial(self._related, a)) for a in ids)
        )
        return {a: r for a, r in zip(ids, related, strict=True) if r is not None}

    async def _related(self, artist_id: str) -> list[Artist]:
        url = f"{self._api}/artists/{artist_id}/related-artists"
        return artist_list((await self._get("related_artists", url)).body, "related_artists")

    # -- top tracks ------------------------------------------------------------------------

    async def top_tracks(self, artist_ids: Sequence[str]) -> dict[str, list[Track]]:
        """Each artist's top tracks, best first (at most 10)."""
        ids = spotify_ids(artist_ids, "artist_ids")
        ranked = await gather(*(self._top_tracks(a) for a in ids))
        return dict(zip(ids, ranked, strict=True))

    async def _top_tracks(self, artist_id: str) -> list[Track]:
        tracks = await self._unless_forbidden(
            "top_tracks", partial(self._top_tracks_endpoint, artist_id)
        )
        return tracks if tracks is not None else await self._top_tracks_from_albums(artist_id)

    async def _top_tracks_endpoint(self, artist_id: str) -> list[Track]:
        url = f"{self._api}/artists/{artist_id}/top-tracks"
        raw = await self._get("top_tracks", url, {"market": self.market})
        return track_list(raw.body, "top_tracks")

    async def _top_tracks_from_albums(self, artist_id: str) -> list[Track]:
        albums = await self._albums(artist_id)
        album_tracks: dict[str, list[Track]] = {}
        full: dict[str, Track] = {}
        if self.capabilities.several_ids is False:
            # no popularity to rank by: the newest albums' tracks are all that is needed
            seen: set[str] = set()
            for album in newest_first(albums):
                if len(seen) >= TOP_N:
                    break
                album_tracks[album.album_id] = await self._album_tracks(album)
                seen.update(t.track_id for t in album_tracks[album.album_id])
        else:
            listings = await gather(*(self._album_tracks(a) for a in albums))
            album_tracks = {a.album_id: t for a, t in zip(albums, listings, strict=True)}
            full = await self._full_tracks([t.track_id for ts in listings for t in ts])
        return choose_top_tracks(albums, album_tracks, full)

    async def _albums(self, artist_id: str) -> list[Album]:
        params = {"include_groups": "album,single", "market": self.market, "limit": PAGE_LIMIT}
        url = f"{self._api}/artists/{artist_id}/albums"
        return await self._follow(
            "artist_albums", await self._get("artist_albums", url, params), album_page
        )

    async def _album_tracks(self, album: Album) -> list[Track]:
        url = f"{self._api}/albums/{album.album_id}/tracks"
        first = await self._get("album_tracks", url, {"market": self.market, "limit": PAGE_LIMIT})
        return await self._follow("album_tracks", first, partial(album_tracks_page, album=album))

    async def _full_tracks(self, track_ids: list[str]) -> dict[str, Track]:
        """Full track objects (with popularity) by id; empty without /tracks?ids=."""
        tracks, refused = await self._in_batches(
            "several_ids", list(dict.fromkeys(track_ids)), SEVERAL_IDS_BATCH, self._several_tracks
        )
        return {} if refused else {t.track_id: t for t in tracks}

    async def _several_tracks(self, ids: list[str]) -> list[Track]:
        raw = await self._get("tracks", f"{self._api}/tracks", {"ids": ",".join(ids)})
        return track_list(raw.body, "tracks")

    # -- audio features --------------------------------------------------------------------

    async def audio_features(self, track_ids: Sequence[str]) -> list[AudioFeatures]:
        """Audio features of the tracks that have them (the others are simply absent), from
        Spotify in batches of 100, else from ReccoBeats in batches of 40."""
        ids = spotify_ids(track_ids, "track_ids")
        features, elsewhere = await self._in_batches(
            "audio_features", ids, AUDIO_FEATURES_BATCH, self._spotify_features
        )
        if elsewhere:
            if self._reccobeats is None:
                raise ApiRefused(
                    "audio_features",
                    403,
                    "Spotify's audio-features endpoint is not available to this app "
                    "and no reccobeats_url is configured",
                )
            features += await self._reccobeats.audio_features(elsewhere)
        return features

    async def _spotify_features(self, ids: list[str]) -> list[AudioFeatures]:
        raw = await self._get(
            "audio_features", f"{self._api}/audio-features", {"ids": ",".join(ids)}
        )
        return audio_features_list(raw.body)

    # -- plumbing --------------------------------------------------------------------------

    async def _follow(
        self,
        endpoint: str,
        first: RawResponse,
        parse: Callable[[Any], Page[T]],
        most: int | None = None,
    ) -> list[T]:
        """The items of `first` and of the pages after it (its `next` links), up to `most`."""
        page = parse(first.body)
        items = list(page.items)
        while page.next and (most is None or len(items) < most):
            page = parse((await self._get(endpoint, page.next)).body)
            items.extend(page.items)
        return items[:most]

    async def _get(
        self, endpoint: str, url: str, params: dict[str, Any] | None = None
    ) -> RawResponse:
        return await self._core.get_json(endpoint, url, params=params, bearer=self._token)

    async def _in_batches(
        self,
        capability: Capability,
        ids: list[str],
        size: int,
        fetch: Callable[[list[str]], Awaitable[list[T]]],
    ) -> tuple[list[T], list[str]]:
        """fetch() each batch of ids where the app may use the capability's endpoint: the
        records found, and the ids of the batches the API refused (403), for a fallback."""
        batches = chunks(ids, size)
        listed = await gather(
            *(self._unless_forbidden(capability, partial(fetch, b)) for b in batches)
        )
        found = [r for batch in listed if batch is not None for r in batch]
        refused = [i for b, got in zip(batches, listed, strict=True) if got is None for i in b]
        return found, refused

    async def _unless_forbidden(
        self, capability: Capability, call: Callable[[], Awaitable[T]]
    ) -> T | None:
        """call() where the app may use the capability's endpoint; None where the API answers
        403. The first call probes it alone (the others wait), so one 403 is enough."""
        if getattr(self.capabilities, capability) is None:
            async with self._probes[capability]:
                if getattr(self.capabilities, capability) is None:
                    return await self._probe(capability, call)
        if getattr(self.capabilities, capability) is False:
            return None
        return await call()

    async def _probe(self, capability: Capability, call: Callable[[], Awaitable[T]]) -> T | None:
        try:
            result = await call()
        except ApiRefused as exc:
            if exc.status != 403:
                raise
            setattr(self.capabilities, capability, False)
            log.info(
                "endpoint not available to this app; using its fallback",
                capability=capability,
                api_message=exc.api_message,
            )
            return None
        setattr(self.capabilities, capability, True)
        return result


def _base_url(name: str, value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{name} is not a URL: {value!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} must be an http(s) URL, not {value!r}")
    return str(url).rstrip("/")
