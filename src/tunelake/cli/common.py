"""What every command shares: the console, the common options, settings, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunelake import app as use_cases
from tunelake.config import Settings, load_settings
from tunelake.errors import EX_INTERRUPTED, EX_USAGE, TunelakeError, exit_code, root_cause
from tunelake.observability import RunRecord, StepFailed, configure_logging
from tunelake.redact import mask_urls_in

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
        raise fail("interrupted (Ctrl-C)", EX_INTERRUPTED) from None
    except StepFailed as exc:
        if isinstance(root_cause(exc), KeyboardInterrupt):  # Ctrl-C: not a bug
            run = f"run {exc.run.run_id} " if exc.run else ""
            log.info("command interrupted", step=exc.step)
            raise fail(f"{run}interrupted (Ctrl-C) at step {exc.step}", EX_INTERRUPTED) from None
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


def steps_table(record: RunRecord) -> Table:
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
