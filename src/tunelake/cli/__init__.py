"""The `tunelake` command: composes settings, pipeline, storage and the catalog server.

It holds no business logic: every command parses its options, builds Settings, calls one use
case of `tunelake.app` (which the Dagster definitions and the API call too), and renders the
answer. An expected failure prints one line and exits with its error's code.

One module per command group: `pipeline` (run, ingest, backfill), `reads` (similar, runs,
sql), `serve` (serve, orchestrate), `services` (services, doctor), `lake`, `catalog`, `events`;
`common` holds what they share.
"""

from __future__ import annotations

import typer

from tunelake.cli import (
    catalog,
    events,
    lake,
    listening,
    pipeline,
    reads,
    recommend,
    serve,
    services,
)

app = typer.Typer(
    help="tunelake: music APIs → warehouse, Iceberg lake, exact artist similarity, serving store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.command()(pipeline.run)
app.command()(pipeline.ingest)
app.command("backfill")(pipeline.backfill_cmd)
app.command()(reads.similar)
app.command()(reads.runs)
app.command()(reads.sql)
app.command()(recommend.evaluate)
app.command()(recommend.recommend)
app.command()(services.doctor)
app.command()(serve.serve)
app.command()(serve.orchestrate)
app.add_typer(catalog.app, name="catalog")
app.add_typer(services.app, name="services")
app.add_typer(lake.app, name="lake")
app.add_typer(events.app, name="events")
app.add_typer(listening.app, name="listening")
