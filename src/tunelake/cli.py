"""The `tunelake` command: composes settings, pipeline, storage and the catalog server.

It holds no business logic: every command parses its options, builds Settings, calls one
function of the layers, and renders the answer.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tunelake.config import ConfigError, Settings, load_settings
from tunelake.observability import StepFailed, configure_logging
from tunelake.pipeline.resources import open_resources
from tunelake.pipeline.run import STEPS, RunResult, backfill, run_pipeline
from tunelake.sources.dump import DumpError, parse_mapping
from tunelake.sources.seeds import SeedsError, read_seeds

app = typer.Typer(
    help="tunelake: music APIs → warehouse, Parquet lake, exact artist similarity, serving store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(
    help="The built-in offline Spotify-compatible catalog server.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")
services_app = typer.Typer(
    help="Local servers the machine does not start itself (SeaweedFS for S3, dynalite for DynamoDB).",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")

out = Console()
err = Console(stderr=True)

Home = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory [env TUNELAKE_HOME; default .tunelake]"),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile", help="Profile of tunelake.toml [env TUNELAKE_PROFILE; default local]"
    ),
]
Dt = Annotated[
    str | None,
    typer.Option("--dt", help="Partition date YYYY-MM-DD [default: today]", show_default=False),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", help="catalog (built-in server), spotify, or file:PATH (CSV/Parquet dump)"
    ),
]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="Similarity engine: numpy (in process) or spark [default numpy]"),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Dump column mapping DUMP_COLUMN=COLUMN (repeatable)"),
]

_USER_ERRORS = (ConfigError, DumpError, SeedsError, ValueError, OSError)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """One-line causes instead of tracebacks (the full trace is in the log file)."""
    try:
        yield
    except StepFailed as exc:
        raise _fail(str(exc)) from None
    except ModuleNotFoundError as exc:
        raise _fail(
            f"{exc.name} is not installed: this backend needs the extras, "
            "pip install -e '.[services]' (or make services-up)"
        ) from None
    except _USER_ERRORS as exc:
        raise _fail(str(exc)) from None


def _settings(home: Path | None, profile: str | None, **overrides: Any) -> Settings:
    with _errors():
        settings = load_settings(home=home, profile=profile, **overrides)
    configure_logging(settings.logs_dir)
    return settings


def _dt(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--dt {value!r} is not a date of the form YYYY-MM-DD") from None


class _StepBars:
    """A progress bar per step."""

    def __init__(self, progress: Progress, steps: tuple[str, ...]):
        self._progress = progress
        self._tasks = {s: progress.add_task(s, total=None, start=False) for s in steps}

    def __call__(self, step: str, done: int, total: int) -> None:
        task = self._tasks[step]
        self._progress.start_task(task)
        self._progress.update(task, completed=done, total=max(total, 1))


@contextmanager
def _bars(steps: tuple[str, ...]) -> Iterator[_StepBars]:
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        yield _StepBars(progress, steps)


def _summary(result: RunResult) -> None:
    record = result.record
    table = Table(title=f"run {record['run_id']} · dt {record['dt']} · {record['status']}")
    for column in ("step", "status", "in", "out", "quarantined", "seconds"):
        table.add_column(column, justify="left" if column in ("step", "status") else "right")
    for s in record["steps"]:
        table.add_row(
            s["step"],
            s["status"],
            str(s["rows_in"]),
            str(s["rows_out"]),
            str(s["rows_quarantined"]),
            f"{s['duration_s']:.2f}" if s["duration_s"] is not None else "",
        )
    out.print(table)
    totals = Table(show_header=False, box=None)
    for name, value in result.counts.items():
        totals.add_row(name, str(value))
    for name, where in record["outputs"].items():
        totals.add_row(name, where)
    out.print(totals)


def _run(
    settings: Settings, dt: date, queries: list[str] | None, mapping: list[str] | None
) -> None:
    with _errors():
        dump_mapping = parse_mapping(mapping or [])
        with _bars(STEPS) as bars:
            result = run_pipeline(
                settings, dt=dt, queries=queries, dump_mapping=dump_mapping, progress=bars
            )
    _summary(result)


def _queries(artist: list[str] | None, seeds: Path | None, settings: Settings) -> list[str] | None:
    given = list(artist or [])
    seeds_file = seeds or settings.seeds_file
    if seeds_file is not None:
        with _errors():
            given += read_seeds(seeds_file)
    return given or None


@app.command()
def run(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    seeds: Annotated[
        Path | None, typer.Option("--seeds", help="Seeds file: names/ids one a line, or a CSV")
    ] = None,
    artist: Annotated[
        list[str] | None, typer.Option("--artist", help="An artist name or id (repeatable)")
    ] = None,
    mapping: MapOpt = None,
    catalog_artists: Annotated[
        int | None, typer.Option(help="Artists in the built-in catalog")
    ] = None,
    catalog_profile: Annotated[str | None, typer.Option(help="extended or development")] = None,
    engine: EngineOpt = None,
) -> None:
    """The main job: discover → extract → validate → load → transform → publish for one dt."""
    settings = _settings(
        home,
        profile,
        source=source,
        catalog_artists=catalog_artists,
        catalog_profile=catalog_profile,
        similarity_engine=engine,
    )
    _run(settings, _dt(dt), _queries(artist, seeds, settings), mapping)


@app.command()
def ingest(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    artist: Annotated[
        list[str] | None, typer.Option("--artist", help="An artist name or id (repeatable)")
    ] = None,
    seeds: Annotated[
        Path | None, typer.Option("--seeds", help="Seeds file: names/ids one a line, or a CSV")
    ] = None,
    mapping: MapOpt = None,
) -> None:
    """Ingest the given artists now (ad hoc): queued as ingest requests, then run for dt."""
    settings = _settings(home, profile, source=source)
    queries = _queries(artist, seeds, settings)
    if not queries:
        raise _fail("nothing to ingest: give --artist NAME or --seeds FILE")
    with _errors(), open_resources(settings) as res:
        res.warehouse.add_ingest_requests(queries, source=settings.source)
    _run(settings, _dt(dt), queries, mapping)


@app.command("backfill")
def backfill_cmd(
    start: Annotated[str, typer.Option("--from", help="First dt, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last dt, YYYY-MM-DD")],
    home: Home = None,
    profile: ProfileOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Re-derive curated partitions and similarity from the raw zone, without calling any API."""
    settings = _settings(home, profile, similarity_engine=engine)
    with _errors(), _bars(STEPS[2:]) as bars:
        results = backfill(settings, start=_dt(start), end=_dt(end), progress=bars)
    if not results:
        raise _fail(f"no raw data between {start} and {end}: nothing to backfill")
    for result in results:
        _summary(result)


@app.command()
def similar(
    name: Annotated[str, typer.Argument(help="Artist name (case and spacing do not matter) or id")],
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """The artists most similar to NAME, from the serving store."""
    settings = _settings(home, profile)
    with _errors(), open_resources(settings) as res:
        matches = res.serving.find_by_name(name)
        if not matches:
            doc = res.serving.get(name)
            matches = [doc] if doc else []
    if not matches:
        raise _fail(
            f"no artist named {name!r} in the serving store: run `tunelake ingest --artist {name!r}`"
        )
    for doc in matches:
        table = Table(title=f"like {doc['name']} ({doc['artist_id']})")
        for column in ("rank", "artist", "id", "distance"):
            table.add_column(column)
        for r in doc.get("related_artists", []):
            table.add_row(str(r["rank"]), r["name"], r["artist_id"], f"{r['distance']:.4f}")
        out.print(table)


@app.command()
def runs(
    home: Home = None,
    profile: ProfileOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
) -> None:
    """Recent run records, newest first."""
    settings = _settings(home, profile)
    with _errors(), open_resources(settings) as res:
        records = res.warehouse.runs(limit)
    table = Table(title="runs")
    for column in ("run_id", "dt", "status", "started_at", "error"):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r["run_id"]),
            str(r["dt"]),
            str(r["status"]),
            str(r["started_at"]),
            r.get("error") or "",
        )
    out.print(table)


def _render(result: pa.Table, fmt: str) -> str:
    rows = result.to_pylist()
    if fmt == "json":
        return json.dumps(rows, default=str, ensure_ascii=False, indent=2)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result.column_names)
    writer.writerows([row[c] for c in result.column_names] for row in rows)
    return buffer.getvalue()


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL over the lake's views")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the SQL from a file")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    home: Home = None,
    profile: ProfileOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
) -> None:
    """SQL over the lake (DuckDB or Spark SQL): a view per dataset with dt as a column."""
    from tunelake.engines.sql import SqlError, open_sql

    if fmt not in ("table", "csv", "json"):
        raise _fail("--format must be table, csv or json")
    if (query is None) == (file is None):
        raise _fail("give the SQL as an argument or with --file, not both")
    text = query if query is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    settings = _settings(home, profile)
    with _errors(), open_resources(settings) as res:
        try:
            result = open_sql(res.lake, engine, settings.spark_master).query(text)
        except SqlError as exc:
            raise _fail(str(exc)) from None
    if fmt != "table":
        sys.stdout.write(_render(result, fmt))
        return
    table = Table()
    for column in result.column_names:
        table.add_column(column)
    for row in result.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)


@catalog_app.command("serve")
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

    with _errors():
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


def _services_table(states: list[Any]) -> None:
    table = Table(title="services")
    for column in ("service", "endpoint", "pid", "detail"):
        table.add_column(column)
    for state in states:
        table.add_row(state.name, state.endpoint or "-", str(state.pid or "-"), state.detail)
    out.print(table)


@services_app.command("up")
def services_up_cmd(
    home: Home = None,
    profile: ProfileOpt = None,
    s3_port: Annotated[int, typer.Option(help="SeaweedFS S3 port")] = 8333,
    dynamodb_port: Annotated[int, typer.Option(help="dynalite port")] = 8000,
) -> None:
    """Start SeaweedFS and dynalite on loopback, data under the data directory."""
    settings = _settings(home, profile)
    with _errors():
        from tunelake.localservices import services_up

        _services_table(services_up(settings.home, s3_port=s3_port, dynamodb_port=dynamodb_port))


@services_app.command("down")
def services_down_cmd(home: Home = None, profile: ProfileOpt = None) -> None:
    """Stop what `tunelake services up` started."""
    settings = _settings(home, profile)
    with _errors():
        from tunelake.localservices import services_down

        _services_table(services_down(settings.home))


@services_app.command("status")
def services_status_cmd(home: Home = None, profile: ProfileOpt = None) -> None:
    """Which of the local servers are running, and where."""
    settings = _settings(home, profile)
    with _errors():
        from tunelake.localservices import services_status

        _services_table(services_status(settings.home))


@app.command()
def doctor(home: Home = None, profile: ProfileOpt = None) -> None:
    """Check every backend of the active profile: what is reachable, what is not, and the fix."""
    from tunelake.doctor import diagnose

    settings = _settings(home, profile)
    checks = diagnose(settings)
    out.print(f"profile [bold]{settings.profile}[/]", highlight=False)
    for c in checks:
        mark = "[green]ok[/]         " if c.ok else "[red]unreachable[/]"
        out.print(f"{mark} {c.role:<9} {c.target}: {c.detail}", highlight=False, soft_wrap=True)
        if c.fix:
            out.print(f"            fix: {c.fix}", highlight=False, soft_wrap=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
