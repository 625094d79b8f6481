"""`tunelake evaluate` (the recommendation methods measured offline) and `tunelake recommend`
(a listener's recommendations)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tunelake import app as use_cases
from tunelake.cli.common import (
    EX_USAGE,
    Column,
    FormatOpt,
    Home,
    ProfileOpt,
    Rows,
    errors,
    fail,
    out,
    settings_for,
    show,
)


def evaluate(
    plays: Annotated[
        Path | None,
        typer.Option(
            "--plays",
            help="A user-artist-count file (Last.fm HetRec 2011 user_artists.dat layout: "
            "userID, artistID, weight, tab-separated) [default: the lake's plays]",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Recommendations per user scored")] = 10,
    holdout: Annotated[
        float, typer.Option("--holdout", help="Share of each user's artists held out")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and of ALS")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    home: Home = None,
    profile: ProfileOpt = None,
) -> None:
    """Measure the recommendation methods offline: hold out a share of each user's artists,
    then recall@k, NDCG@k and genre precision@k per method (popularity, listening, audio,
    hybrid, implicit's ALS), on one seeded split."""
    if fmt not in ("table", "json"):
        raise fail("--format must be table or json", EX_USAGE)
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        found = use_cases.evaluate(settings, plays_file=plays, k=k, holdout=holdout, seed=seed)
    report = use_cases.evaluation_json(found)
    if fmt == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    columns = [
        Column("method"),
        Column(f"recall@{k}", right=True, text=lambda v: f"{v:.4f}"),
        Column(f"NDCG@{k}", right=True, text=lambda v: f"{v:.4f}"),
        Column(f"genre precision@{k}", right=True),
        Column("build s", right=True, text=lambda v: f"{v:.2f}"),
    ]
    rows = []
    for r in found.results:
        genre = "-" if r.genre_precision is None else f"{r.genre_precision:.3f}"
        if r.uses_genres and r.genre_precision is not None:
            genre += " (circular)"
        rows.append((r.method, r.recall, r.ndcg, genre, r.build_seconds))
    title = (
        f"{found.users} users, {found.artists} artists, {found.pairs} user-artist pairs; "
        f"{found.held_out} held out ({found.holdout:.0%}, seed {found.seed})"
    )
    show("table", Rows(columns, rows, title=title))
    for method, why in found.skipped.items():
        out.print(f"{method}: not measured ({escape(why)})", highlight=False)


def recommend(
    user: Annotated[str, typer.Option("--user", help="The listener's user id")],
    k: Annotated[int, typer.Option("--k", help="How many artists")] = 10,
    by: Annotated[
        str | None, typer.Option("--by", help="audio, listening or hybrid [default: the setting]")
    ] = None,
    home: Home = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Artists a listener has not played, from their recent plays through the similarity."""
    if by is not None and by not in use_cases.SIMILARITY_METHODS:
        raise fail("--by must be audio, listening or hybrid", EX_USAGE)
    if k < 1 or k > 100:
        raise fail("--k must be between 1 and 100", EX_USAGE)
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        found = use_cases.user_recommendations(settings, user, k=k, method=by)  # type: ignore[arg-type]
    if fmt != "table":  # the table is a line per artist, below a line on the listener
        columns = [Column(c) for c in ("rank", "artist_id", "artist", "score", "because")]
        rows = [
            (
                r.rank,
                r.artist_id,
                r.name,
                r.score,
                ", ".join(b.name or b.artist_id for b in r.because),
            )
            for r in found.artists
        ]
        show(fmt, Rows(columns, rows))
        return
    out.print(
        f"{escape(found.user_id)}: {found.played_artists} artists played since "
        f"{found.since:%Y-%m-%d}; by {found.method}",
        highlight=False,
    )
    for r in found.artists:
        names = [b.name or b.artist_id for b in r.because]
        because = f"  (like {', '.join(names)})" if names else "  (popular)"
        line = f"{r.rank:>3}  {r.name or r.artist_id}{because}"
        out.print(escape(line), highlight=False, soft_wrap=True)
