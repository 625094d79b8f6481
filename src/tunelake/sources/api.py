"""The API adapter of the source port: a Spotify-compatible API (the built-in catalog server
or Spotify itself) through the async client, driven from synchronous steps."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from tunelake.errors import ConfigError
from tunelake.ids import SPOTIFY_ID, is_spotify_id
from tunelake.sources.port import Resolution, SourceInfo, resolve_by_name
from tunelake.sources.raw_responses import RawResponse
from tunelake.sources.spotify import SpotifyClient
from tunelake.storage.lake.port import Lake


class ApiSource:
    def __init__(
        self,
        name: str,
        client: SpotifyClient,
        runner: asyncio.Runner,
        defaults: list[str],
        pending: list[RawResponse],
    ):
        self.info = SourceInfo(kind="api", name=name, id_pattern=SPOTIFY_ID)
        self._client = client
        self._runner = runner
        self._defaults = defaults
        self._pending = pending
        """The client appends every response here (its on_response) before parsing it."""

    def default_queries(self) -> list[str]:
        if not self._defaults:
            raise ConfigError(
                f"the {self.info.name} source has no default seeds: "
                "give --seeds FILE or --artist NAME"
            )
        return list(self._defaults)

    def resolve(self, queries: Sequence[str]) -> list[Resolution]:
        return self._runner.run(self._resolve(queries))

    async def _resolve(self, queries: Sequence[str]) -> list[Resolution]:
        ids = [q for q in queries if is_spotify_id(q)]
        names = [q for q in queries if not is_spotify_id(q)]
        found = {a.artist_id for a in await self._client.get_artists(ids)} if ids else set()
        searched = await asyncio.gather(
            *(self._client.search_artists(n, limit=10, max_results=10) for n in names)
        )
        by_id = [
            Resolution(q, "resolved", q)
            if q in found
            else Resolution(q, "not_found", None, "unknown artist id")
            for q in ids
        ]
        return by_id + [resolve_by_name(n, c) for n, c in zip(names, searched, strict=True)]

    def fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        self._runner.run(self._fetch(artist_ids, known_tracks))

    async def _fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        top = await self._client.top_tracks(list(artist_ids))
        new = {t.track_id for tracks in top.values() for t in tracks} - known_tracks
        if new:
            await self._client.audio_features(sorted(new))
        known_tracks |= new

    def land(self, lake: Lake, dt: date) -> int:
        batch = self._pending[:]
        self._pending.clear()
        by_endpoint: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for response in batch:
            by_endpoint[response.endpoint].append(response.to_record())
        for endpoint, records in by_endpoint.items():
            lake.write_raw(endpoint, dt, records)
        return len(batch)

    def details(self) -> dict[str, Any]:
        return {}
