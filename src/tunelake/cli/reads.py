"""The commands that only read: `similar`, `runs` and `sql`. None creates or migrates anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunelake import app as use_cases
from tunelake.cli.common import (
    Home,
    ProfileOpt,
    SparkMasterOpt,
    err,
    errors,
    fail,
    out,
    settings_for,
    steps_table,
)
from tunelake.errors import EX_USAGE, InputError
from tunelake.sources.input_files import input_file


def similar(
    name: Annotated[str, typer.Argument(help="Artist name (case and spacing do not matter) or id")],
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """The artists most similar to NAME, from the serving store."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        matches = use_cases.similar(settings, name)
    for doc in matches:
        table = Table(title=escape(f"like {doc.name} ({doc.artist_id})"))
        for column in ("rank", "artist", "id", "distance"):
            table.add_column(column)
        for r in doc.related_artists:
            table.add_row(str(r.rank), escape(r.name), r.artist_id, f"{r.distance:.4f}")
        out.print(table)


def runs(
    run_id: Annotated[
        str | None, typer.Argument(help="A run's id: show its steps", show_default=False)
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
) -> None:
    """Recent runs, newest first, one row each; with RUN_ID, that run's steps."""
    settings = settings_for(home, profile, reads_only=True)
    if run_id is not None:
        with errors():
            record = use_cases.run_detail(settings, run_id)
        out.print(steps_table(record))
        if record.error:
            out.print(f"error: {escape(record.error)}", highlight=False, soft_wrap=True)
        return
    with errors():
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
    spark_master: SparkMasterOpt = None,
) -> None:
    """Read-only SQL over the lake (DuckDB): a view per dataset with dt as a column, and
    quarantine_<dataset> for the rejected rows. Only SELECT (and EXPLAIN SELECT) runs: no
    statement can write or delete a file or change stored data. Tables that cannot be read
    are left out with a warning naming them."""
    if fmt not in ("table", "csv", "json"):
        raise fail("--format must be table, csv or json", EX_USAGE)
    if (query is None) == (file is None):
        raise fail("give the SQL as an argument or with --file, not both", EX_USAGE)
    settings = settings_for(home, profile, reads_only=True, spark_master=spark_master)
    with errors():
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
        return input_file(path, "SQL file").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read SQL file {path}: {exc}") from exc
