"""The source a run reads, chosen by `settings.source`.

- `catalog`: the built-in catalog server, started in a child process (its own core) on a
  free loopback port;
- `spotify`: the Spotify Web API (credentials from the environment or the secrets file);
- `file:PATH`: a dataset dump (CSV or Parquet, one row per track).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import SecretStr

from tunelake.config import Settings
from tunelake.errors import ConfigError
from tunelake.sources.api import ApiSource
from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
from tunelake.sources.dump import DumpSource, DumpSpec
from tunelake.sources.port import Source
from tunelake.sources.raw_responses import RawResponse
from tunelake.sources.spotify import SpotifyClient


@contextmanager
def _api_source(settings: Settings, defaults: list[str], **urls: str) -> Iterator[ApiSource]:
    with asyncio.Runner() as runner:
        pending: list[RawResponse] = []
        client = SpotifyClient.from_settings(settings, on_response=pending.append, **urls)
        source = ApiSource(settings.source, client, runner, defaults, pending)
        runner.run(client.__aenter__())
        try:
            yield source
        finally:
            runner.run(client.__aexit__(None, None, None))


@contextmanager
def open_source(
    settings: Settings,
    *,
    dump_mapping: Mapping[str, str] | None = None,
    dump_delimiter: str | None = None,
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
        # The server (Starlette, uvicorn) is imported when one is started, not by every
        # command that imports the pipeline.
        from tunelake.sources.catalog.server import serve_in_process

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
        yield DumpSource(DumpSpec.parse(settings.source, dump_mapping, dump_delimiter))
    else:
        raise ConfigError(f"unknown source {settings.source!r}: use catalog, spotify or file:PATH")
