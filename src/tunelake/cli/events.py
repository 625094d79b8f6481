"""`tunelake events`: simulate plays, consume them into the lake, compact, show the status."""

from __future__ import annotations

from typing import Annotated

import typer

from tunelake import app as use_cases
from tunelake.cli.common import (
    Column,
    FormatOpt,
    Home,
    ProfileOpt,
    Rows,
    errors,
    out,
    parse_dt,
    settings_for,
    show,
)

app = typer.Typer(help="Listening events: simulator → broker → exactly once into Iceberg plays.")


@app.command("produce")
def produce(
    count: Annotated[int | None, typer.Option(help="Publish N events")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Publish for S seconds (at --rate, default 1000/s)")
    ] = None,
    rate: Annotated[float | None, typer.Option(help="Events a second, paced in real time")] = None,
    users: Annotated[int, typer.Option(help="Simulated listeners")] = 1000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same events")] = 0,
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """Publish simulated plays (with duplicates, late and malformed events) to the stream."""
    settings = settings_for(home, profile)
    with errors():
        done = use_cases.events_produce(
            settings, count=count, duration=duration, rate=rate, users=users, seed=seed
        )
    out.print(
        f"published {done.events} events to {settings.events_stream}: {done.duplicates} "
        f"duplicates, {done.late} late, {done.malformed} malformed "
        f"({done.valid_unique} valid and unique)",
        highlight=False,
    )


@app.command("consume")
def consume(
    until_idle: Annotated[
        float | None,
        typer.Option("--until-idle", help="Stop after S seconds without events [default: never]"),
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """Commit the stream's events to the Iceberg table plays, exactly once (Ctrl-C stops)."""
    settings = settings_for(home, profile)

    def ready(position: int) -> None:
        # One line as soon as it reads: a caller (a benchmark, a supervisor) waits for it.
        out.print(
            f"consuming stream {settings.events_stream} after position {position} (Ctrl-C stops)",
            highlight=False,
        )
        out.file.flush()

    with errors():
        done = use_cases.events_consume(settings, until_idle=until_idle, on_ready=ready)
    out.print(
        f"committed {done.rows} plays in {done.commits} commits from {done.messages} messages "
        f"({done.events} events): {done.duplicates} duplicates dropped, {done.quarantined} "
        f"quarantined; position {done.position}",
        highlight=False,
    )


@app.command("compact")
def compact(
    day: Annotated[
        str | None, typer.Option(help="Day YYYY-MM-DD [default: every closed day]")
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """Rewrite closed days of plays as few files sorted by (artist_id, ts); expire snapshots."""
    settings = settings_for(home, profile)
    chosen = parse_dt(day, "--day") if day else None
    with errors():
        done = use_cases.events_compact(settings, day=chosen)
    if not done:
        out.print("nothing to compact")
    for c in done:
        out.print(f"{c.day}: {c.files_before} → {c.files_after} files, {c.rows} rows")


@app.command("status")
def status(home: Home = None, profile: ProfileOpt = None, fmt: FormatOpt = "table") -> None:
    """The stream, the consumer's pending messages and lag, the last commit, files per day."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        s = use_cases.events_status(settings)
    last = s.last_commit.isoformat(timespec="seconds") if s.last_commit else "never"
    if fmt == "table":  # csv and json hold the files per day alone
        out.print(
            f"stream {s.stream.stream} at {s.stream.url}: {s.stream.messages} messages "
            f"(positions {s.stream.first_position}-{s.stream.last_position})\n"
            f"consumer: position {s.position}, {s.pending} messages pending, "
            f"lag {s.lag_seconds:.1f} s\n"
            f"plays: {s.rows} rows, last commit {last}",
            highlight=False,
        )
    show(fmt, Rows([Column("day"), Column("files")], list(s.files.items())))


@app.command("stop-broker")
def stop_broker(home: Home = None, profile: ProfileOpt = None) -> None:
    """Stop the embedded nats-server of the data directory (its stream stays on disk)."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        stopped = use_cases.events_stop_broker(settings)
    out.print("stopped" if stopped else "no embedded nats-server runs")
