"""`tunelake lake`: the Iceberg tables' info, housekeeping and migration."""

from __future__ import annotations

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
    errors,
    out,
    settings_for,
    show,
)

app = typer.Typer(help="The lake's Iceberg tables: info, housekeeping, repair, migration.")


@app.command("info")
def lake_info(home: Home = None, profile: ProfileOpt = None, fmt: FormatOpt = "table") -> None:
    """Tables, snapshots, and the rows, data files and bytes of each current snapshot."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        lake = use_cases.lake_info(settings)
    if fmt == "table":  # csv and json hold the rows alone
        out.print(
            f"lake {escape(lake.url)}, catalog {escape(lake.catalog_url)}",
            highlight=False,
            soft_wrap=True,  # piped: a long URL is not wrapped at 80 columns
        )
    columns = [
        Column("table"),
        Column("snapshots"),
        Column("current snapshot", text=lambda v: str(v or "-")),
        Column("committed at", text=lambda v: v.isoformat(timespec="seconds") if v else "-"),
        *map(Column, ("rows", "files", "bytes")),
    ]
    rows = [
        (i.name, i.snapshots, i.snapshot_id, i.committed_at, i.rows, i.files, i.bytes)
        for i in lake.tables
    ]
    show(fmt, Rows(columns, rows))


@app.command("vacuum")
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
    settings = settings_for(home, profile, reads_only=True)  # maintenance creates no home
    with errors():
        done = use_cases.lake_vacuum(settings, retention_days=retention_days)
    for v in done:
        out.print(
            f"{v.table}: {v.expired_snapshots} snapshots expired, {v.removed_files} files "
            f"({v.removed_bytes} bytes) removed",
            highlight=False,
        )


@app.command("repair")
def lake_repair(home: Home = None, profile: ProfileOpt = None) -> None:
    """Rebuild the catalog from the tables' newest readable metadata files (a damaged
    catalog.db is kept aside)."""
    settings = settings_for(home, profile, reads_only=True)  # maintenance creates no home
    with errors():
        done = use_cases.lake_repair(settings)
    if done.catalog_kept_as:
        out.print(f"damaged catalog kept as {escape(done.catalog_kept_as)}", highlight=False)
    for name, url in sorted(done.tables.items()):
        out.print(f"{name}: now at {escape(url)}", highlight=False)
    out.print(f"{len(done.tables)} tables repaired", highlight=False)


@app.command("migrate")
def lake_migrate(home: Home = None, profile: ProfileOpt = None) -> None:
    """Rebuild a lake of the pre-Iceberg layout (dt=…/_manifest.json) as Iceberg tables."""
    settings = settings_for(home, profile, reads_only=True)  # maintenance creates no home
    with errors():
        done = use_cases.lake_migrate(settings)
    for name, rows in sorted(done.rows.items()):
        out.print(f"{name}: {rows} rows", highlight=False)
    out.print(f"{done.partitions} partitions migrated", highlight=False)
