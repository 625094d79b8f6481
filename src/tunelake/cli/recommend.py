"""`tunelake evaluate` (the recommendation methods measured offline) and `tunelake recommend`
(a listener's recommendations)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunelake import app as use_cases
from tunelake.cli.common import EX_USAGE, Home, ProfileOpt, errors, fail, out, settings_for


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
    table = Table(
        title=f"{found.users} users, {found.artists} artists, {found.pairs} user-artist pairs; "
        f"{found.held_out} held out ({found.holdout:.0%}, seed {found.seed})"
    )
    for column in ("method", f"recall@{k}", f"NDCG@{k}", f"genre precision@{k}", "build s"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in found.results:
        genre = "-" if r.genre_precision is None else f"{r.genre_precision:.3f}"
        if r.uses_genres and r.genre_precision is not None:
            genre += " (circular)"
        table.add_row(r.method, f"{r.recall:.4f}", f"{r.ndcg:.4f}", genre, f"{r.build_seconds:.2f}")
    out.print(table)
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
) -> None:
    """Artists a listener has not played, from their recent plays through the similarity."""
    if by is not None and by not in use_cases.SIMILARITY_METHODS:
        raise fail("--by must be audio, listening or hybrid", EX_USAGE)
    if k < 1 or k > 100:
        raise fail("--k must be between 1 and 100", EX_USAGE)
    settings = settings_for(home, profile, reads_only=True)
    with errors():
        found = use_cases.user_recommendations(settings, user, k=k, method=by)  # type: ignore[arg-type]
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
