"""`tunelake catalog serve`: the built-in offline Spotify-compatible catalog server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import BaseModel, SecretStr, ValidationError

from tunelake.cli.common import errors, out
from tunelake.errors import InputError
from tunelake.observability import configure_logging

app = typer.Typer(
    help="The built-in offline Spotify-compatible catalog server.", no_args_is_help=True
)


# the options whose names are not their field's
_OPTION_OF = {"n_artists": "--artists", "profile": "--api-profile"}


@contextmanager
def _named_by_option() -> Iterator[None]:
    """A value out of its range (e.g. a fraction above 1): one line naming its option, the
    value given and the range it must be in."""
    from tunelake.sources.catalog.options import CatalogOptions, FaultOptions

    try:
        yield
    except ValidationError as exc:
        model = FaultOptions if exc.title == FaultOptions.__name__ else CatalogOptions
        said = "; ".join(
            f"{_OPTION_OF.get(str(e['loc'][-1]), '--' + str(e['loc'][-1]).replace('_', '-'))} "
            f"{e['input']}: {e['msg']}{_range(model, str(e['loc'][-1]))}"
            for e in exc.errors()
        )
        raise InputError(f"catalog serve: {said}") from None


def _range(model: type[BaseModel], field: str) -> str:
    """The bounds of model's field, as ` (valid: from 0.0 to 1.0)`; "" if it has none."""
    info = model.model_fields.get(field)
    bounds = {
        key: getattr(rule, key)
        for rule in (info.metadata if info else [])
        for key in ("ge", "gt", "le")
        if getattr(rule, key, None) is not None
    }
    low = (
        f"from {bounds['ge']}"
        if "ge" in bounds
        else f"above {bounds['gt']}"
        if "gt" in bounds
        else ""
    )
    high = f"to {bounds['le']}" if "le" in bounds else ""
    return f" (valid: {' '.join(filter(None, (low, high)))})" if bounds else ""


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

    configure_logging(None)  # structlog's default would print a failure's locals
    with errors(), _named_by_option():
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

    with errors():  # a port out of range or in use, an address not this machine's
        serve(options, host=host, port=port, on_ready=ready)
