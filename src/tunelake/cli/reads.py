"""The commands that only read: `similar`, `runs` and `sql`. None creates or migrates anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tunelake import app as use_cases
from tunelake.cli.common import (
    Column,
    FormatOpt,
    Home,
    ProfileOpt,
    Rows,
    SparkMasterOpt,
    err,
    errors,
    fail,
    out,
    settings_for,
    show,
    steps_rows,
)
from tunelake.errors import EX_USAGE, InputError
from tunelake.input_files import input_file


def similar(
    name: Annotated[str, typer.Argument(help="Artist name (case and spacing do not matter) or id")],
    home: Home = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """The artists most similar to NAME, from the serving store."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        matches = use_cases.similar(settings, name)
    # a table per artist called NAME; csv and json name it in the columns like_id and like
    columns = [
        Column("like_id", shown=False),
        Column("like", shown=False),
        Column("rank"),
        Column("artist"),
        Column("id"),
        Column("distance", text=lambda v: f"{v:.4f}"),
    ]
    show(
        fmt,
        *(
            Rows(
                columns,
                [
                    (doc.artist_id, doc.name, r.rank, r.name, r.artist_id, r.distance)
                    for r in doc.related_artists
                ],
                title=f"like {doc.name} ({doc.artist_id})",
            )
            for doc in matches
        ),
    )


def runs(
    run_id: Annotated[
        str | None, typer.Argument(help="A run's id: show its steps", show_default=False)
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
    fmt: FormatOpt = "table",
) -> None:
    """Recent runs, newest first, one row each; with RUN_ID, that run's steps."""
    settings = settings_for(home, profile, reads_only=True)
    if run_id is not None:
        with errors():
            record = use_cases.run_detail(settings, run_id)
        show(fmt, steps_rows(record))
        if record.error and fmt == "table":  # csv and json hold the rows alone
            out.print(f"error: {escape(record.error)}", highlight=False, soft_wrap=True)
        return
    with errors():
        records = use_cases.recent_runs(settings, limit)
    columns = [
        *map(Column, ("run_id", "dt", "kind", "status", "started_at")),
        Column("seconds", text=lambda v: "" if v is None else f"{v:.1f}"),
        *map(Column, ("quarantined", "error")),
    ]
    rows = [
        (r.run_id, r.dt, r.kind, r.status, r.started_at, r.duration_s, r.quarantined, r.error)
        for r in records
    ]
    show(fmt, Rows(columns, rows, title="runs"))


def sql(
    query: Annotated[str | None, typer.Argument(help="SQL over the lake's views")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the SQL from a file")] = None,
    fmt: FormatOpt = "table",
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
    if (query is None) == (file is None):
        raise fail("give the SQL as an argument or with --file, not both", EX_USAGE)
    settings = settings_for(home, profile, reads_only=True, spark_master=spark_master)
    with errors():
        text = query if query is not None else _read_text(file)  # type: ignore[arg-type]
        result = use_cases.sql(settings, text, as_of=as_of, engine=engine)
    for problem in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    show(fmt, Rows([Column(c) for c in result.columns], result.rows))


def _read_text(path: Path) -> str:
    try:
        return input_file(path, "SQL file").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read SQL file {path}: {exc}") from exc
