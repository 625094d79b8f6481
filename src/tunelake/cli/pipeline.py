"""`tunelake run`, `ingest` and `backfill`: one dt (or a range) through the pipeline, with a
progress bar per step and a closing summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tunelake import app as use_cases
from tunelake.cli.common import (
    Column,
    DelimiterOpt,
    Dt,
    EngineOpt,
    Home,
    MapOpt,
    ProfileOpt,
    Rows,
    SourceOpt,
    SparkMasterOpt,
    err,
    errors,
    fail,
    parse_dt,
    settings_for,
    show,
    steps_rows,
)
from tunelake.config import Settings
from tunelake.errors import EX_USAGE
from tunelake.names import checked_query
from tunelake.pipeline.run import DERIVE_STEPS, STEPS
from tunelake.sources.dump import parse_mapping
from tunelake.sources.seeds import read_seeds


class _StepBars:
    """A progress bar per step."""

    def __init__(self, progress: Progress, steps: tuple[str, ...]):
        self._progress = progress
        self._tasks = {s: progress.add_task(s, total=None, start=False) for s in steps}
        self.started = False

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.started:  # at the first step: see _bars
            self._progress.start()
            self.started = True
        task = self._tasks[step]
        self._progress.start_task(task)
        self._progress.update(task, completed=done, total=max(total, 1))


@contextmanager
def _bars(steps: tuple[str, ...]) -> Iterator[_StepBars]:
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # shown from the first step on: a command refused before its run starts (a bad file, a
    # dt in the future) prints its error line alone, not under a set of empty bars
    progress = Progress(*columns, console=err, transient=False)
    bars = _StepBars(progress, steps)
    try:
        yield bars
    finally:
        if bars.started:  # stop() prints a newline even when nothing was shown
            progress.stop()


def _summary(result: use_cases.RunResult) -> None:
    show("table", steps_rows(result.record))
    totals = [*result.counts.items(), *result.record.outputs.items()]
    show("table", Rows([Column("name"), Column("value")], totals, listing=True))
    for warning in result.record.warnings:
        err.print(f"warning: {escape(warning)}", soft_wrap=True)


def _queries(artist: list[str] | None, seeds: Path | None, settings: Settings) -> list[str] | None:
    """The artists given on the command line and in the seeds file; None when neither was
    given (the source's default seeds). An empty seeds file is an error, not the defaults."""
    seeds_file = seeds or settings.seeds_file
    with errors():
        given = [checked_query(a, "--artist") for a in artist or []]
        if seeds_file is None:
            return given or None
        return given + read_seeds(seeds_file)


def _delimiter(value: str | None) -> str | None:
    """The delimiter as typed: `\\t` (or `tab`) for a tab, else one character."""
    if value is None:
        return None
    given = {"\\t": "\t", "tab": "\t"}.get(value.lower(), value)
    if len(given) != 1:
        raise fail(f"--delimiter {value!r} must be one character (or \\t for a tab)", EX_USAGE)
    return given


def _run_now(
    use_case: Callable[..., use_cases.RunResult],
    settings: Settings,
    dt: str | None,
    queries: list[str] | None,
    mapping: list[str] | None,
    delimiter: str | None,
) -> None:
    """Run (or ingest) one dt with a progress bar per step, then print the summary."""
    with errors(), _bars(STEPS) as bars:
        result = use_case(
            settings,
            dt=parse_dt(dt),
            queries=queries,
            dump_mapping=parse_mapping(mapping or []),
            dump_delimiter=_delimiter(delimiter),
            progress=bars,
        )
    _summary(result)


SeedsOpt = Annotated[
    Path | None, typer.Option("--seeds", help="Seeds file: names/ids one a line, or a CSV")
]
ArtistOpt = Annotated[
    list[str] | None, typer.Option("--artist", help="An artist name or id (repeatable)")
]


def run(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    seeds: SeedsOpt = None,
    artist: ArtistOpt = None,
    mapping: MapOpt = None,
    delimiter: DelimiterOpt = None,
    catalog_artists: Annotated[
        int | None, typer.Option(help="Artists in the built-in catalog")
    ] = None,
    catalog_profile: Annotated[str | None, typer.Option(help="extended or development")] = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """The main job: discover → extract → validate → load → transform → publish for one dt."""
    settings = settings_for(
        home,
        profile,
        source=source,
        catalog_artists=catalog_artists,
        catalog_profile=catalog_profile,
        similarity_engine=engine,
        spark_master=spark_master,
    )
    _run_now(use_cases.run, settings, dt, _queries(artist, seeds, settings), mapping, delimiter)


def ingest(
    home: Home = None,
    profile: ProfileOpt = None,
    dt: Dt = None,
    source: SourceOpt = None,
    artist: ArtistOpt = None,
    seeds: SeedsOpt = None,
    mapping: MapOpt = None,
    delimiter: DelimiterOpt = None,
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Only queue the requests (the automation's sensor runs them)"),
    ] = False,
) -> None:
    """Ingest the given artists (ad hoc): queued as ingest requests, then run for dt now."""
    settings = settings_for(home, profile, source=source)
    queries = _queries(artist, seeds, settings)
    if not queries:
        raise fail("nothing to ingest: give --artist NAME or --seeds FILE", EX_USAGE)
    if queue:
        with errors():
            requests = use_cases.request_ingest(settings, queries, source="cli")
        columns = [Column(c) for c in ("request_id", "query", "status", "created_at")]
        rows = [(r.request_id, r.query, r.status, r.created_at) for r in requests]
        show("table", Rows(columns, rows, title="ingest requests"))
        return
    _run_now(use_cases.ingest, settings, dt, queries, mapping, delimiter)


def backfill_cmd(
    start: Annotated[str, typer.Option("--from", help="First dt, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last dt, YYYY-MM-DD")],
    mapping: MapOpt = None,
    home: Home = None,
    profile: ProfileOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Re-derive curated partitions and similarity from the raw zone, without calling any API.
    Only the dts that have raw data are visited."""
    settings = settings_for(home, profile, similarity_engine=engine)
    with errors(), _bars(DERIVE_STEPS) as bars:
        results = use_cases.backfill(
            settings,
            start=parse_dt(start, "--from"),
            end=parse_dt(end, "--to"),
            dump_mapping=parse_mapping(mapping or []),
            progress=bars,
        )
    for result in results:
        _summary(result)
