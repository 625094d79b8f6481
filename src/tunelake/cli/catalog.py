"""`tunelake catalog serve`: the built-in offline Spotify-compatible catalog server."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr

from tunelake.cli.common import errors, out

app = typer.Typer(
    help="The built-in offline Spotify-compatible catalog server.", no_args_is_help=True
)


@app.command("serve")
def catalog_serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one and prints it")] = 0,
    seed: Annotated[int, typer.Option(help="Catalog seed")] = 42,
    artists: Annotated[int, typer.Option(help="Artists in the catalog")] = 1000,
    profile: Annotated[
        str, typer.Option("--api-profile", help="extended or development")
    ] = "extended",
    client_id: Annotated[
        str, typer.Option(help="Client id the token endpoint accepts")
    ] = "tunelake",
    client_secret: Annotated[
        str,
        typer.Option(
            help="Client secret the token endpoint accepts", envvar="TUNELAKE_CATALOG_CLIENT_SECRET"
        ),
    ] = "tunelake-secret",
    token_ttl: Annotated[int, typer.Option(help="Token lifetime, seconds")] = 3600,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per rolling window (none: unlimited)")
    ] = None,
    rate_window: Annotated[float, typer.Option(help="Rate-limit window, seconds")] = 30.0,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault injection")] = 0,
    error_5xx: Annotated[float, typer.Option(help="Fraction of requests answered 5xx")] = 0.0,
    burst_429: Annotated[
        float, typer.Option(help="Fraction of requests that start a 429 burst")
    ] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every call, ms")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Random extra latency up to this, ms")] = 0.0,
    drop: Annotated[float, typer.Option(help="Fraction of connections dropped mid-response")] = 0.0,
    malformed: Annotated[float, typer.Option(help="Fraction of responses with broken JSON")] = 0.0,
) -> None:
    """Serve the offline Spotify-compatible API (and a ReccoBeats-compatible endpoint)."""
    from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
    from tunelake.sources.catalog.server import serve

    with errors():
        options = CatalogOptions(
            seed=seed,
            n_artists=artists,
            profile=profile,  # type: ignore[arg-type]
            client_id=client_id,
            client_secret=SecretStr(client_secret),
            token_ttl=token_ttl,
            rate_limit=rate_limit,
            rate_window=rate_window,
            faults=FaultOptions(
                seed=fault_seed,
                error_5xx=error_5xx,
                burst_429=burst_429,
                latency_ms=latency_ms,
                jitter_ms=jitter_ms,
                drop=drop,
                malformed=malformed,
            ),
        )

    def ready(base_url: str) -> None:
        out.print(
            f"catalog server listening on {base_url} (API {base_url}/v1, token {base_url}/api/token)",
            soft_wrap=True,
            highlight=False,
        )

    serve(options, host=host, port=port, on_ready=ready)
