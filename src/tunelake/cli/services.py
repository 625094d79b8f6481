"""`tunelake services` (local SeaweedFS and dynalite) and `tunelake doctor` (the profile's
backends checked)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from tunelake import app as use_cases
from tunelake.cli.common import (
    Column,
    EngineOpt,
    FormatOpt,
    Home,
    ProfileOpt,
    Rows,
    SparkMasterOpt,
    errors,
    out,
    settings_for,
    show,
)

app = typer.Typer(
    help="Local servers the machine does not start itself (SeaweedFS for S3, dynalite for DynamoDB).",
    no_args_is_help=True,
)


def _services_table(states: list[Any], fmt: str) -> None:
    columns = [
        Column("service"),
        Column("endpoint", text=lambda v: v or "-"),
        Column("pid", text=lambda v: str(v or "-")),
        Column("detail"),
    ]
    rows = [(s.name, s.endpoint, s.pid, s.detail) for s in states]
    show(fmt, Rows(columns, rows, title="services"))


@app.command("up")
def services_up_cmd(
    home: Home = None,
    profile: ProfileOpt = None,
    s3_port: Annotated[int, typer.Option(help="SeaweedFS S3 port")] = 8333,
    dynamodb_port: Annotated[int, typer.Option(help="dynalite port")] = 8000,
    fmt: FormatOpt = "table",
) -> None:
    """Start SeaweedFS and dynalite on loopback, data under the data directory."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices.services import services_up

        up = services_up(settings.home, s3_port=s3_port, dynamodb_port=dynamodb_port)
        _services_table(up, fmt)


@app.command("down")
def services_down_cmd(
    home: Home = None, profile: ProfileOpt = None, fmt: FormatOpt = "table"
) -> None:
    """Stop what `tunelake services up` started."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices.services import services_down

        _services_table(services_down(settings.home), fmt)


@app.command("status")
def services_status_cmd(
    home: Home = None, profile: ProfileOpt = None, fmt: FormatOpt = "table"
) -> None:
    """Which of the local servers are running, and where."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices.services import services_status

        _services_table(services_status(settings.home), fmt)


def doctor(
    home: Home = None,
    profile: ProfileOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Check every backend of the active profile: what is reachable, what is not, and the fix;
    with the spark engine, also java, pyspark, the master and its executors."""
    settings = settings_for(
        home, profile, reads_only=True, similarity_engine=engine, spark_master=spark_master
    )
    checks = use_cases.doctor(settings)
    if fmt != "table":  # the table is a line per check (and its fix), below the profile
        columns = [Column(c) for c in ("role", "target", "ok", "detail", "fix")]
        show(fmt, Rows(columns, [(c.role, c.target, c.ok, c.detail, c.fix) for c in checks]))
    else:
        _check_lines(settings.profile, checks)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _check_lines(profile: str, checks: list[use_cases.Check]) -> None:
    out.print(f"profile [bold]{profile}[/]", highlight=False)
    for c in checks:
        mark = (
            "[green]ok[/]         "
            if c.ok
            else "[red]unusable[/]   "
            if c.misconfigured
            else "[red]unreachable[/]"
        )
        line = f"{mark} {c.role:<9} {escape(c.target)}: {escape(c.detail)}"
        out.print(line, highlight=False, soft_wrap=True)
        if c.fix:
            out.print(f"            fix: {escape(c.fix)}", highlight=False, soft_wrap=True)
