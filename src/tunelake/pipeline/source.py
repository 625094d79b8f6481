"""Where a run's data comes from, chosen by `settings.source`.

- `catalog`: the built-in catalog server, started in a child process (its own core) on a
  free loopback port;
- `spotify`: the Spotify Web API (credentials from the environment or the secrets file);
- `file:PATH`: a dataset dump (CSV or Parquet, one row per track).

Every source resolves queries (names or ids) to artist ids and fetches artists' data; what it
fetches is held as raw records until `land` writes them to the lake's raw zone, so the
curated datasets are always derived from the raw zone (`derive`), on a run and on a backfill.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import SecretStr

from tunelake.config import ConfigError, Settings
from tunelake.models import Artist
from tunelake.names import normalise_name
from tunelake.pipeline.progress import PROGRESS, Resolution
from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
from tunelake.sources.catalog.server import serve_in_process
from tunelake.sources.dump import DUMP_ENDPOINT, DumpSpec, read_dump, records_from_dump_rows
from tunelake.sources.raw import RawResponse
from tunelake.sources.replay import Extracted, replay
from tunelake.sources.spotify import SpotifyClient
from tunelake.storage.lake.port import Lake

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_DUMP_ROWS_PER_FILE = 50_000


class Source(Protocol):
    name: str

    def default_queries(self) -> list[str]:
        """What a run ingests when given no seeds."""

    def resolve(self, queries: Sequence[str]) -> list[Resolution]: ...

    def fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        """Fetch the artists' top tracks and the audio features of tracks not in known_tracks."""

    def land(self, lake: Lake, dt: date) -> int:
        """Write what was fetched since the last call to the raw zone; returns records landed."""


def _resolve_by_name(query: str, candidates: Sequence[Artist]) -> Resolution:
    """Exact match on the normalised name; several artists of that name are ambiguous."""
    key = normalise_name(query)
    exact = sorted({a.artist_id for a in candidates if normalise_name(a.name) == key})
    if len(exact) == 1:
        return Resolution(query, "resolved", exact[0])
    if exact:
        return Resolution(
            query, "ambiguous", None, f"{len(exact)} artists share this name: {', '.join(exact)}"
        )
    near = ", ".join(a.name for a in candidates[:3]) or "no results"
    return Resolution(query, "not_found", None, f"no exact match; nearest: {near}")


class ApiSource:
    """A Spotify-compatible API through the async client, driven from synchronous steps."""

    name = "api"

    def __init__(
        self,
        client: SpotifyClient,
        runner: asyncio.Runner,
        defaults: list[str],
        pending: list[RawResponse],
    ):
        self._client = client
        self._runner = runner
        self._defaults = defaults
        self._pending = pending
        """The client appends every response here (its on_response) before parsing it."""

    def default_queries(self) -> list[str]:
        if not self._defaults:
            raise ConfigError(
                "the spotify source has no default seeds: give --seeds FILE or --artist NAME"
            )
        return list(self._defaults)

    def resolve(self, queries: Sequence[str]) -> list[Resolution]:
        return self._runner.run(self._resolve(queries))

    async def _resolve(self, queries: Sequence[str]) -> list[Resolution]:
        ids = [q for q in queries if _SPOTIFY_ID.match(q)]
        names = [q for q in queries if not _SPOTIFY_ID.match(q)]
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
        return by_id + [_resolve_by_name(n, c) for n, c in zip(names, searched, strict=True)]

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


class DumpSource:
    """A dataset dump: artists are resolved within the file, rows land as raw `dump` records."""

    name = "dump"

    def __init__(self, spec: DumpSpec):
        self._table = read_dump(spec)
        self._pending: list[dict[str, Any]] = []

    def default_queries(self) -> list[str]:
        return list(dict.fromkeys(self._table.column("artist_id").to_pylist()))

    def resolve(self, queries: Sequence[str]) -> list[Resolution]:
        ids = set(self._table.column("artist_id").to_pylist())
        names = dict(
            zip(
                self._table["artist_id"].to_pylist(),
                self._table["artist_name"].to_pylist(),
                strict=True,
            )
        )
        artists = [Artist(artist_id=i, name=str(n)) for i, n in names.items()]
        return [
            Resolution(q, "resolved", q) if q in ids else _resolve_by_name(q, artists)
            for q in queries
        ]

    def fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        mask = pc.is_in(self._table["artist_id"], value_set=pa.array(list(artist_ids), pa.string()))
        self._pending.extend(self._table.filter(mask).to_pylist())

    def land(self, lake: Lake, dt: date) -> int:
        rows, self._pending = self._pending, []
        for start in range(0, len(rows), _DUMP_ROWS_PER_FILE):
            lake.write_raw(DUMP_ENDPOINT, dt, rows[start : start + _DUMP_ROWS_PER_FILE])
        return len(rows)


def derive(lake: Lake, dt: date, artist_ids: Sequence[str]) -> Extracted:
    """The dt's records, rebuilt from its raw zone alone."""
    endpoints = [e for e in lake.raw_endpoints(dt) if e not in (PROGRESS, DUMP_ENDPOINT)]
    responses = [RawResponse.from_record(r) for e in endpoints for r in lake.read_raw(e, dt)]
    parts = [replay(responses)]
    if DUMP_ENDPOINT in lake.raw_endpoints(dt):
        parts.append(records_from_dump_rows(lake.read_raw(DUMP_ENDPOINT, dt)))
    # Searches also return artists the dt did not choose; those are left out. Everything
    # else stays, so that a record pointing at nothing reaches validation and quarantine.
    wanted = set(artist_ids)
    return Extracted(
        artists=[a for p in parts for a in p.artists if a.artist_id in wanted],
        tracks=[t for p in parts for t in p.tracks],
        top_tracks=[t for p in parts for t in p.top_tracks],
        audio_features=[f for p in parts for f in p.audio_features],
    )


@contextmanager
def _api_source(settings: Settings, defaults: list[str], **urls: str) -> Iterator[ApiSource]:
    with asyncio.Runner() as runner:
        pending: list[RawResponse] = []
        client = SpotifyClient.from_settings(settings, on_response=pending.append, **urls)
        source = ApiSource(client, runner, defaults, pending)
        runner.run(client.__aenter__())
        try:
            yield source
        finally:
            runner.run(client.__aexit__(None, None, None))


@contextmanager
def open_source(
    settings: Settings, *, dump_mapping: Mapping[str, str] | None = None
) -> Iterator[Source]:
    if settings.source == "catalog":
        options = CatalogOptions(
            seed=settings.catalog_seed,
            n_artists=settings.catalog_artists,
            profile=settings.catalog_profile,
            faults=FaultOptions(latency_ms=settings.catalog_latency_ms),
        )
        credentials = settings.model_copy(
            update={
                "spotify_client_id": SecretStr(options.client_id),
                "spotify_client_secret": options.client_secret,
            }
        )
        with (
            serve_in_process(options) as server,
            _api_source(
                credentials,
                server.catalog.seed_names(),
                accounts_url=server.accounts_url,
                api_url=server.api_url,
                reccobeats_url=server.reccobeats_url,
            ) as source,
        ):
            yield source
    elif settings.source == "spotify":
        if settings.spotify_client_id is None or settings.spotify_client_secret is None:
            raise ConfigError(
                "the spotify source needs TUNELAKE_SPOTIFY_CLIENT_ID and TUNELAKE_SPOTIFY_CLIENT_SECRET "
                "(environment or the file named by TUNELAKE_SECRETS_FILE)"
            )
        with _api_source(settings, []) as source:
            yield source
    elif settings.source.startswith("file:"):
        yield DumpSource(DumpSpec.parse(settings.source, dump_mapping))
    else:
        raise ConfigError(f"unknown source {settings.source!r}: use catalog, spotify or file:PATH")
