"""`tunelake services` (local SeaweedFS and dynalite) and `tunelake doctor` (the profile's
backends checked)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tunelake import app as use_cases
from tunelake.cli.common import (
    EngineOpt,
    Home,
    ProfileOpt,
    SparkMasterOpt,
    errors,
    out,
    settings_for,
)

app = typer.Typer(
    help="Local servers the machine does not start itself (SeaweedFS for S3, dynalite for DynamoDB).",
    no_args_is_help=True,
)


def _services_table(states: list[Any]) -> None:
    table = Table(title="services")
    for column in ("service", "endpoint", "pid", "detail"):
        table.add_column(column)
    for state in states:
        table.add_row(state.name, state.endpoint or "-", str(state.pid or "-"), state.detail)
    out.print(table)


@app.command("up")
def services_up_cmd(
    home: Home = None,
    profile: ProfileOpt = None,
    s3_port: Annotated[int, typer.Option(help="SeaweedFS S3 port")] = 8333,
    dynamodb_port: Annotated[int, typer.Option(help="dynalite port")] = 8000,
) -> None:
    """Start SeaweedFS and dynalite on loopback, data under the data directory."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices import services_up

        _services_table(services_up(settings.home, s3_port=s3_port, dynamodb_port=dynamodb_port))


@app.command("down")
def services_down_cmd(home: Home = None, profile: ProfileOpt = None) -> None:
    """Stop what `tunelake services up` started."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices import services_down

        _services_table(services_down(settings.home))


@app.command("status")
def services_status_cmd(home: Home = None, profile: ProfileOpt = None) -> None:
    """Which of the local servers are running, and where."""
    settings = settings_for(home, profile)
    with errors():
        from tunelake.localservices import services_status

        _services_table(services_status(settings.home))


def doctor(
    home: Home = None,
    profile: ProfileOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Check every backend of the active profile: what is reachable, what is not, and the fix;
    with the spark engine, also java, pyspark, the master and its executors."""
    settings = settings_for(
        home, profile, reads_only=True, similarity_engine=engine, spark_master=spark_master
    )
    checks = use_cases.doctor(settings)
    out.print(f"profile [bold]{settings.profile}[/]", highlight=False)
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
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
