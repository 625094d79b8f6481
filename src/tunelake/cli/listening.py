"""`tunelake listening`: the trending artists (computed now and published, or as last
published) and an artist's plays over time, from the lake's `plays`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tunelake import app as use_cases
from tunelake.cli.common import Home, ProfileOpt, errors, out, settings_for
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
) -> None:
    """The trending artists: plays in the last hour against their usual rate."""
    settings = settings_for(home, profile, reads_only=not publish)
    with errors():
        found: Trending = (
            use_cases.publish_trending(settings)
            if publish
            else use_cases.trending_artists(settings)
        )
    table = Table(title=f"trending at {found.computed_at:%Y-%m-%d %H:%M} UTC")
    for column in ("rank", "artist", "plays", "usual", "score"):
        table.add_column(column, justify="left" if column == "artist" else "right")
    for a in found.artists:
        name = a.name or a.artist_id
        table.add_row(str(a.rank), name, str(a.plays), f"{a.usual_plays:.1f}", f"{a.score:.2f}")
    out.print(table if found.artists else "nobody is trending: no artist above its usual rate")


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
