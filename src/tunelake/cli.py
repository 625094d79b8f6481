"""The `tunelake` command: composes settings, pipeline, storage and the catalog server.

It holds no business logic: every command parses its options, builds Settings, calls one use
case of `tunelake.app` (which the Dagster definitions and the API call too), and renders the
answer. An expected failure prints one line and exits with its error's code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tunelake import app as use_cases
from tunelake.config import Settings, load_settings
from tunelake.errors import EX_USAGE, InputError, TunelakeError, exit_code
from tunelake.observability import RunRecord, StepFailed, configure_logging
from tunelake.pipeline.run import DERIVE_STEPS, STEPS
from tunelake.sources.dump import parse_mapping
from tunelake.sources.seeds import read_seeds

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
DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter", help="A CSV dump's delimiter, e.g. ';' or '\\t' [default: detected]"
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Dump column mapping DUMP_COLUMN=COLUMN (repeatable)"),
]

log = structlog.get_logger("tunelake.cli")


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on one line (a multi-line message, such as a SQL parser's, is
    folded) and give the exit to raise."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """An expected failure (a TunelakeError) is one line and its exit code; the traceback
    goes to the log file only. Anything else is a bug in tunelake and keeps its traceback."""
    try:
        yield
    except StepFailed as exc:
        log.error("command failed", error=str(exc), exc_info=True)
        raise _fail(use_cases.failure_summary(exc), exit_code(exc)) from None
    except TunelakeError as exc:
        log.error("command failed", error=str(exc), exc_info=True)
        raise _fail(str(exc), exit_code(exc)) from None
    except ModuleNotFoundError as exc:
        raise _fail(
            f"{exc.name} is not installed: this backend needs the extras, "
            "pip install -e '.[services]' (or make services-up)",
            EX_USAGE,
        ) from None


def _settings(
    home: Path | None, profile: str | None, *, reads_only: bool = False, **overrides: Any
) -> Settings:
    """Settings for a command; a command that only reads creates no data directory."""
    # structlog's own default would print a bad setting's traceback with its local
    # variables (the environment's secrets among them) to the terminal.
    configure_logging(None)
    with _errors():
        settings = load_settings(home=home, profile=profile, **overrides)
    configure_logging(settings.logs_dir, create=not reads_only)
    return settings


def _dt(value: str | None, option: str = "--dt") -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not a date of the form YYYY-MM-DD", EX_USAGE) from None


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


def _steps_table(record: RunRecord) -> Table:
    table = Table(title=f"run {record.run_id} · dt {record.dt} · {record.status}")
    for column in ("step", "status", "in", "out", "quarantined", "seconds", "error"):
        table.add_column(
            column, justify="left" if column in ("step", "status", "error") else "right"
        )
    for s in record.steps:
        table.add_row(
            s.step,
            s.status,
            str(s.rows_in),
            str(s.rows_out),
            str(s.rows_quarantined),
            f"{s.duration_s:.2f}" if s.duration_s is not None else "",
            escape(s.error or ""),
        )
    return table


def _summary(result: use_cases.RunResult) -> None:
    out.print(_steps_table(result.record))
    totals = Table(show_header=False, box=None)
    for name, value in result.counts.items():
        totals.add_row(name, str(value))
    for name, where in result.record.outputs.items():
        totals.add_row(name, where)
    out.print(totals)


def _queries(artist: list[str] | None, seeds: Path | None, settings: Settings) -> list[str] | None:
    """The artists given on the command line and in the seeds file; None when neither was
    given (the source's default seeds). An empty seeds file is an error, not the defaults."""
    given = list(artist or [])
    seeds_file = seeds or settings.seeds_file
    if seeds_file is None:
        return given or None
    with _errors():
        from_file = read_seeds(seeds_file)
        if not from_file:
            raise InputError(f"seeds file {seeds_file} names no artist")
    return given + from_file


def _delimiter(value: str | None) -> str | None:
    """The delimiter as typed: `\\t` (or `tab`) for a tab, else one character."""
    if value is None:
        return None
    given = {"\\t": "\t", "tab": "\t"}.get(value.lower(), value)
    if len(given) != 1:
        raise _fail(f"--delimiter {value!r} must be one character (or \\t for a tab)", EX_USAGE)
    return given


def _run_now(
    use_case: Callable[..., use_cases.RunResult],
    settings: Settings,
    dt: str | None,
    queries: list[str] | None,
    mapping: list[str] | None,
    delimiter: str | None,
) -> None:
    """Run (or ingest) one dt with a progress bar per step, then print the summary."""
    with _errors(), _bars(STEPS) as bars:
        result = use_case(
            settings,
            dt=_dt(dt),
            queries=queries,
            dump_mapping=parse_mapping(mapping or []),
            dump_delimiter=_delimiter(delimiter),
            progress=bars,
        )
    _summary(result)


SeedsOpt = Annotated[
    Path | None, typer.Option("--seeds", help="Seeds file: names/ids one a line, or a CSV")
]
ArtistOpt = Annotated[
    list[str] | None, typer.Option("--artist", help="An artist name or id (repeatable)")
]


@app.command()
def run(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    seeds: SeedsOpt = None,
    artist: ArtistOpt = None,
    mapping: MapOpt = None,
    delimiter: DelimiterOpt = None,
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
    _run_now(use_cases.run, settings, dt, _queries(artist, seeds, settings), mapping, delimiter)


@app.command()
def ingest(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    artist: ArtistOpt = None,
    seeds: SeedsOpt = None,
    mapping: MapOpt = None,
    delimiter: DelimiterOpt = None,
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Only queue the requests (the automation's sensor runs them)"),
    ] = False,
) -> None:
    """Ingest the given artists (ad hoc): queued as ingest requests, then run for dt now."""
    settings = _settings(home, profile, source=source)
    queries = _queries(artist, seeds, settings)
    if not queries:
        raise _fail("nothing to ingest: give --artist NAME or --seeds FILE", EX_USAGE)
    if queue:
        with _errors():
            requests = use_cases.request_ingest(settings, queries, source="cli")
        table = Table(title="ingest requests")
        for column in ("request_id", "query", "status", "created_at"):
            table.add_column(column)
        for r in requests:
            table.add_row(str(r.request_id), escape(r.query), r.status, str(r.created_at))
        out.print(table)
        return
    _run_now(use_cases.ingest, settings, dt, queries, mapping, delimiter)


@app.command("backfill")
def backfill_cmd(
    start: Annotated[str, typer.Option("--from", help="First dt, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last dt, YYYY-MM-DD")],
    mapping: MapOpt = None,
    home: Home = None,
    profile: ProfileOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Re-derive curated partitions and similarity from the raw zone, without calling any API.
    Only the dts that have raw data are visited."""
    settings = _settings(home, profile, similarity_engine=engine)
    with _errors(), _bars(DERIVE_STEPS) as bars:
        results = use_cases.backfill(
            settings,
            start=_dt(start, "--from"),
            end=_dt(end, "--to"),
            dump_mapping=parse_mapping(mapping or []),
            progress=bars,
        )
    for result in results:
        _summary(result)


@app.command()
def similar(
    name: Annotated[str, typer.Argument(help="Artist name (case and spacing do not matter) or id")],
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """The artists most similar to NAME, from the serving store."""
    settings = _settings(home, profile, reads_only=True)
    with _errors():
        matches = use_cases.similar(settings, name)
    for doc in matches:
        table = Table(title=escape(f"like {doc.name} ({doc.artist_id})"))
        for column in ("rank", "artist", "id", "distance"):
            table.add_column(column)
        for r in doc.related_artists:
            table.add_row(str(r.rank), escape(r.name), r.artist_id, f"{r.distance:.4f}")
        out.print(table)


@app.command()
def runs(
    run_id: Annotated[
        str | None, typer.Argument(help="A run's id: show its steps", show_default=False)
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
) -> None:
    """Recent runs, newest first, one row each; with RUN_ID, that run's steps."""
    settings = _settings(home, profile, reads_only=True)
    if run_id is not None:
        with _errors():
            record = use_cases.run_detail(settings, run_id)
        out.print(_steps_table(record))
        if record.error:
            out.print(f"error: {escape(record.error)}", highlight=False, soft_wrap=True)
        return
    with _errors():
        records = use_cases.recent_runs(settings, limit)
    table = Table(title="runs")
    for column in (
        "run_id",
        "dt",
        "kind",
        "status",
        "started_at",
        "seconds",
        "quarantined",
        "error",
    ):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.run_id,
            str(r.dt),
            r.kind or "",
            r.status,
            str(r.started_at or ""),
            "" if r.duration_s is None else f"{r.duration_s:.1f}",
            str(r.quarantined),
            escape(r.error or ""),
        )
    out.print(table)


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL over the lake's views")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the SQL from a file")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Query the lake as it was: a time (ISO 8601; local time unless it has an "
            "offset) or a snapshot id (see `tunelake lake info`)",
        ),
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
) -> None:
    """Read-only SQL over the lake (DuckDB): a view per dataset with dt as a column, and
    quarantine_<dataset> for the rejected rows. Only SELECT (and EXPLAIN SELECT) runs: no
    statement can write or delete a file or change stored data. Tables that cannot be read
    are left out with a warning naming them."""
    if fmt not in ("table", "csv", "json"):
        raise _fail("--format must be table, csv or json", EX_USAGE)
    if (query is None) == (file is None):
        raise _fail("give the SQL as an argument or with --file, not both", EX_USAGE)
    settings = _settings(home, profile, reads_only=True)
    with _errors():
        text = query if query is not None else _read_text(file)  # type: ignore[arg-type]
        result = use_cases.sql(settings, text, as_of=as_of, engine=engine)
    for problem in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    if fmt == "csv":
        sys.stdout.write(result.to_csv())
        return
    if fmt == "json":
        sys.stdout.write(result.to_json() + "\n")
        return
    table = Table()
    for column in result.columns:
        table.add_column(escape(column))
    for row in result.rows:
        table.add_row(*(escape("" if v is None else str(v)) for v in row))
    out.print(table)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read SQL file {path}: {exc}") from exc


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
    settings = _settings(home, profile)
    checks = use_cases.doctor(settings)
    out.print(f"profile [bold]{settings.profile}[/]", highlight=False)
    for c in checks:
        mark = "[green]ok[/]         " if c.ok else "[red]unreachable[/]"
        line = f"{mark} {c.role:<9} {escape(c.target)}: {escape(c.detail)}"
        out.print(line, highlight=False, soft_wrap=True)
        if c.fix:
            out.print(f"            fix: {escape(c.fix)}", highlight=False, soft_wrap=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def serve(
    home: Home = None,
    profile: ProfileOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one")] = 8080,
) -> None:
    """Serve the API, the dashboard (/) and the chatbot skill (/chat/kakao) over the stores."""
    from tunelake.service.api import serve as serve_app

    settings = _settings(home, profile, reads_only=True)

    def ready(base_url: str) -> None:
        out.print(
            f"tunelake serving on {base_url} (dashboard {base_url}/, API {base_url}/openapi.json)",
            soft_wrap=True,
            highlight=False,
        )

    with _errors():
        serve_app(settings, host=host, port=port, on_ready=ready)


@app.command()
def orchestrate(
    home: Home = None,
    profile: ProfileOpt = None,
    port: Annotated[int, typer.Option(help="webserver port on 127.0.0.1 (0: a free one)")] = 3000,
) -> None:
    """Run the pipeline on Dagster: its webserver and daemon (schedule, sensors) until Ctrl-C."""
    settings = _settings(home, profile)
    with _errors():
        from tunelake.orchestration.server import orchestrate as serve  # the orchestrate extra

        code = serve(settings, port, lambda url: out.print(f"Dagster: {url}", highlight=False))
    raise typer.Exit(code)


# `tunelake lake`: the Iceberg tables ----------------------------------------------------
lake_app = typer.Typer(help="The lake's Iceberg tables: info, housekeeping, migration.")
app.add_typer(lake_app, name="lake")


@lake_app.command("info")
def lake_info(home: Home = None, profile: ProfileOpt = None) -> None:
    """Tables, snapshots, and the rows, data files and bytes of each current snapshot."""
    settings = _settings(home, profile, reads_only=True)
    with _errors():
        lake = use_cases.lake_info(settings)
    out.print(f"lake {escape(lake.url)}, catalog {escape(lake.catalog_url)}", highlight=False)
    table = Table()
    for column in (
        "table",
        "snapshots",
        "current snapshot",
        "committed at",
        "rows",
        "files",
        "bytes",
    ):
        table.add_column(column)
    for i in lake.tables:
        when = i.committed_at.isoformat(timespec="seconds") if i.committed_at else "-"
        table.add_row(
            i.name,
            str(i.snapshots),
            str(i.snapshot_id or "-"),
            when,
            str(i.rows),
            str(i.files),
            str(i.bytes),
        )
    out.print(table)


@lake_app.command("vacuum")
def lake_vacuum(
    retention_days: Annotated[
        float | None,
        typer.Option(
            help="Expire snapshots older than this [default: lake_snapshot_retention_days]"
        ),
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """Expire old snapshots (the newest is always kept) and delete files nothing references."""
    settings = _settings(home, profile)
    with _errors():
        done = use_cases.lake_vacuum(settings, retention_days=retention_days)
    for v in done:
        out.print(
            f"{v.table}: {v.expired_snapshots} snapshots expired, {v.removed_files} files "
            f"({v.removed_bytes} bytes) removed",
            highlight=False,
        )


@lake_app.command("migrate")
def lake_migrate(home: Home = None, profile: ProfileOpt = None) -> None:
    """Rebuild a lake of the pre-Iceberg layout (dt=…/_manifest.json) as Iceberg tables."""
    settings = _settings(home, profile)
    with _errors():
        done = use_cases.lake_migrate(settings)
    for name, rows in sorted(done.rows.items()):
        out.print(f"{name}: {rows} rows", highlight=False)
    out.print(f"{done.partitions} partitions migrated", highlight=False)
