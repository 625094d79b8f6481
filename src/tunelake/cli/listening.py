"""`tunelake listening`: the trending artists (computed now and published, or as last
published) and an artist's plays over time, from the lake's `plays`."""

from __future__ import annotations

from datetime import datetime
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
    settings_for,
    show,
)
from tunelake.errors import InputError
from tunelake.listening import Trending

app = typer.Typer(help="Listening: trending artists and plays per artist, from plays.")


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a time like 2026-12-05T13:00 (UTC)") from None


@app.command("trending")
def trending(
    publish: Annotated[
        bool, typer.Option("--publish", help="Compute it now and publish it to the serving store")
    ] = False,
    home: Home = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """The trending artists: plays in the last hour against their usual rate."""
    settings = settings_for(home, profile, reads_only=not publish)
    with errors():
        found: Trending = (
            use_cases.publish_trending(settings)
            if publish
            else use_cases.trending_artists(settings)
        )
    if not found.artists and fmt == "table":
        out.print("nobody is trending: no artist above its usual rate")
        return
    columns = [
        Column("rank", right=True),
        Column("artist_id", shown=False),
        Column("artist"),
        Column("plays", right=True),
        Column("usual", right=True, text=lambda v: f"{v:.1f}"),
        Column("score", right=True, text=lambda v: f"{v:.2f}"),
    ]
    rows = [
        (a.rank, a.artist_id, a.name or a.artist_id, a.plays, a.usual_plays, a.score)
        for a in found.artists
    ]
    show(fmt, Rows(columns, rows, title=f"trending at {found.computed_at:%Y-%m-%d %H:%M} UTC"))


@app.command("plays")
def plays(
    artist_id: Annotated[str, typer.Argument(help="The artist's id")],
    start: Annotated[
        str | None, typer.Option("--from", help="ISO time, UTC unless given [default: to - 24 h]")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO time [default: now]")] = None,
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """An artist's plays per hour (ranges up to 2 days) or per day (up to 92 days)."""
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        found = use_cases.artist_plays(
            settings, artist_id, _time(start, "--from"), _time(end, "--to")
        )
    out.print(
        f"{found.total} plays of {artist_id} from {found.start:%Y-%m-%d %H:%M} "
        f"to {found.end:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    for c in found.counts:
        out.print(f"{c.start:%Y-%m-%d %H:%M}  {c.plays}", highlight=False)
