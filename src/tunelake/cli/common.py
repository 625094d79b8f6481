"""What every command shares: the console, the common options, settings, one-line errors,
and the one renderer of tables (rich on a terminal, in full when piped, csv, json)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.box import HEAVY_HEAD
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunelake import app as use_cases
from tunelake.config import Settings, load_settings
from tunelake.errors import EX_INTERRUPTED, EX_USAGE, TunelakeError, exit_code, root_cause
from tunelake.observability import INTERRUPTED, RunRecord, StepFailed, configure_logging
from tunelake.redact import mask_urls_in
from tunelake.render import csv_text, json_text

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
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL of the spark engine, e.g. spark://host:7077 "
        "[env TUNELAKE_SPARK_MASTER; default: spark-defaults.conf, else local[*]]",
    ),
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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on one line (a multi-line message, such as a SQL parser's, is
    folded; a URL's password masked, whichever code quoted it) and give the exit to raise."""
    line = " ".join(part.strip() for part in mask_urls_in(message).splitlines() if part.strip())
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """An expected failure (a TunelakeError) is one line and its exit code; the traceback
    goes to the log file only. Ctrl-C is an interruption: one line, exit 130. Anything else
    is a bug in tunelake and keeps its traceback."""
    try:
        yield
    except KeyboardInterrupt:
        log.info("command interrupted")
        raise fail(INTERRUPTED, EX_INTERRUPTED) from None
    except StepFailed as exc:
        if isinstance(root_cause(exc), KeyboardInterrupt):  # Ctrl-C: not a bug
            run = f"run {exc.run.run_id} " if exc.run else ""
            log.info("command interrupted", step=exc.step)
            raise fail(f"{run}{INTERRUPTED} at step {exc.step}", EX_INTERRUPTED) from None
        log.error("command failed", error=str(exc), exc_info=True)
        raise fail(use_cases.failure_summary(exc), exit_code(exc)) from None
    except TunelakeError as exc:
        log.error("command failed", error=str(exc), exc_info=True)
        raise fail(str(exc), exit_code(exc)) from None
    except ModuleNotFoundError as exc:
        raise fail(
            f"{exc.name} is not installed: this backend needs the extras, "
            "pip install -e '.[services]' (or make services-up)",
            EX_USAGE,
        ) from None


def settings_for(
    home: Path | None, profile: str | None, *, reads_only: bool = False, **overrides: Any
) -> Settings:
    """Settings for a command; a command that only reads creates no data directory."""
    # structlog's own default would print a bad setting's traceback with its local
    # variables (the environment's secrets among them) to the terminal.
    configure_logging(None)
    with errors():
        settings = load_settings(home=home, profile=profile, **overrides)
    configure_logging(settings.logs_dir, create=not reads_only)
    return settings


def parse_dt(value: str | None, option: str = "--dt") -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date of the form YYYY-MM-DD", EX_USAGE) from None


FORMATS = ("table", "csv", "json")


def _format_checked(value: str) -> str:
    if value not in FORMATS:
        raise fail(f"--format {value!r} is not one of table, csv, json", EX_USAGE)
    return value


FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="table (piped or redirected: every value in full), csv (a header, a line per "
        "row) or json (a list of objects, one per row)",
        callback=_format_checked,
    ),
]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    name: str
    right: bool = False
    """Right-justified in the table (numbers)."""
    text: Callable[[Any], str] = _text
    """How the table writes a value (csv and json keep the value itself)."""
    shown: bool = True
    """False: in csv and json only (the table says it in its title)."""


@dataclass(frozen=True)
class Rows:
    """A table as data: the rows hold the values (numbers, dates, None), not their text."""

    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    title: str | None = None
    listing: bool = False
    """A name-value listing: neither header nor borders."""


def show(fmt: str, first: Rows, *more: Rows) -> None:
    """Print tables in the --format asked for. csv and json hold the rows of all of them under
    one header (the tables share their columns)."""
    tables = (first, *more)
    if fmt in ("csv", "json"):
        names = [c.name for c in first.columns]
        rows = [row for t in tables for row in t.rows]
        text = csv_text(names, rows) if fmt == "csv" else json_text(names, rows) + "\n"
        sys.stdout.write(text)
        return
    for t in tables:
        _print_table(_rich_table(t), t.title)


def _rich_table(rows: Rows) -> Table:
    table = Table(
        title=escape(rows.title) if rows.title else None,
        show_header=not rows.listing,
        box=None if rows.listing else HEAVY_HEAD,  # HEAVY_HEAD: rich's default
    )
    shown = [i for i, c in enumerate(rows.columns) if c.shown]
    for i in shown:
        column = rows.columns[i]
        table.add_column(escape(column.name), justify="right" if column.right else "left")
    for row in rows.rows:
        table.add_row(*(escape(rows.columns[i].text(row[i])) for i in shown))
    return table


# wider than any table: the measure of a table as wide as its widest row
_UNBOUNDED = 1_000_000


def _print_table(table: Table, title: str | None) -> None:
    if out.is_terminal:
        out.print(table)  # fitted to the terminal: long values are cut or wrapped
        return
    # Piped or redirected: as wide as the widest row, so that no value is cut at the 80
    # columns rich assumes without a terminal; at least as wide as the title, which rich
    # would otherwise wrap to the table's width.
    table.min_width = cell_len(title or "")
    width = out.measure(table, options=out.options.update(width=_UNBOUNDED)).maximum
    Console(file=out.file, width=width).print(table)


def steps_rows(record: RunRecord) -> Rows:
    """A run's steps: `tunelake runs RUN_ID` and the summary of `run` print them."""
    return Rows(
        [
            Column("step"),
            Column("status"),
            Column("in", right=True),
            Column("out", right=True),
            Column("quarantined", right=True),
            Column("seconds", right=True, text=lambda v: "" if v is None else f"{v:.2f}"),
            Column("error"),
        ],
        [
            (s.step, s.status, s.rows_in, s.rows_out, s.rows_quarantined, s.duration_s, s.error)
            for s in record.steps
        ],
        title=f"run {record.run_id} · dt {record.dt} · {record.status}",
    )
