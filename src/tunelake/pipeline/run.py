"""The stage runner: every entry point runs the pipeline through `run_stages`, and only here
are the locks taken, the run and its steps recorded, the reject limit applied, the outbox
moved and the current-state rule decided.

    land        discover + extract   the source's responses into the dt's raw zone
    curate      validate + load      curated partitions (+ the warehouse, if dt is current)
    similarity  transform            vectors and neighbours (+ the warehouse, if dt is current)
    publish     publish              the serving store (only if dt is current)

The current-state rule: the warehouse and the serving store hold the newest curated dt. A
stage for an older dt writes only that dt's lake partitions, and its run record says
"current state: left alone (newer dt X is current)". Whether dt is the newest is decided and
acted on under the home's current-state lock (waited for, never failed on), so two writers of
different dts cannot leave an older one current.

An ingest adds artists to the current state: its land stage resolves the newest curated dt's
artists together with the new queries, so the neighbours published afterwards are computed
over the whole current set.

A re-run for the same dt resumes: land fetches only what the dt's raw zone does not hold
yet; the later stages re-derive everything from the raw zone and overwrite whole partitions,
so a failed or killed run, run again, ends in the same state as a clean one. The stages of
one call hand their results over in memory; a stage run alone (a Dagster asset, spark-submit)
reads its inputs from the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from tunelake.config import Settings
from tunelake.errors import InputError, NotFound
from tunelake.names import checked_query
from tunelake.observability import RunRecord, RunRecorder, StepFailed, StepRecord
from tunelake.pipeline import outbox, steps
from tunelake.pipeline.inputs import read_curated, read_similarity
from tunelake.pipeline.lock import current_lock, dt_lock
from tunelake.pipeline.progress import PROGRESS, read_progress
from tunelake.pipeline.resources import Resources, open_resources
from tunelake.report import write_report
from tunelake.sources.derive import remapped
from tunelake.sources.factory import open_source

STAGES = ("land", "curate", "similarity", "publish")
DERIVE_STAGES = STAGES[1:]
STAGE_STEPS = {
    "land": ("discover", "extract"),
    "curate": ("validate", "load"),
    "similarity": ("transform",),
    "publish": ("publish",),
}
STEPS = tuple(step for stage in STAGES for step in STAGE_STEPS[stage])
DERIVE_STEPS = tuple(step for stage in DERIVE_STAGES for step in STAGE_STEPS[stage])
CURRENT_STATE = "current state"
"""The run output that says what the run did to the warehouse and the serving store."""

StepProgress = Callable[[str, int, int], None]
"""(step, done, total): how a caller shows progress."""


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass
class RunResult:
    record: RunRecord
    report: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    validation: steps.ValidationResult | None = None
    """The curate stage's per-dataset results, if it ran."""
    similarity: steps.Similarity | None = None
    """The similarity stage's tables, if it ran."""
    current: bool | None = None
    """Whether dt was the newest curated dt (None: no stage after land ran)."""

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.record.steps if s.step == name)


@dataclass(frozen=True)
class StageOptions:
    """How a call runs its stages, beyond which ones."""

    kind: str = "run"
    """What the run record calls it: run, ingest, backfill, dagster, spark."""
    queries: Sequence[str] | None = None
    """land: names or ids; None: the source's default seeds."""
    include_pending: bool = True
    """land: add the outbox's pending ingest requests to the queries."""
    add_to_current: bool = False
    """land (an ingest): resolve the current state's artists along with the queries."""
    reuse_landed: bool = False
    """land: a dt whose raw zone holds its whole extraction is not landed again (an
    orchestrator's backfill of a past dt: no source, no API)."""
    dump_mapping: Mapping[str, str] | None = None
    dump_delimiter: str | None = None
    reject_limit: bool = True
    """curate: fail past the configured reject fraction (Dagster checks it as a blocking
    check instead, after the partition and its quarantine are written)."""
    report: bool = True
    holder: str | None = None
    """Who holds the locks, for the message another process gets."""

    def __post_init__(self) -> None:
        # here, so that a run from the CLI, the API or Dagster is refused before it starts,
        # not at discovery, where a blank or huge name fails as a source's bug
        for query in self.queries or ():
            checked_query(query, "an artist to run")


def _nothing_matched(asked: Sequence[str], step: StepRecord) -> NotFound:
    if not asked:
        return NotFound("no seed matched: no artist was asked for; give artist names or ids")
    unique = list(dict.fromkeys(asked))
    shown = ", ".join(repr(q) for q in unique[:3])
    more = f" and {len(unique) - 3} more" if len(unique) > 3 else ""
    found = step.details
    return NotFound(
        f"no seed matched: no artist found for {shown}{more} ({found['not_found']} not "
        f"found, {found['ambiguous']} ambiguous); check the names, or give Spotify ids"
    )


def newest_curated(res: Resources) -> date | None:
    return max(res.lake.partitions("artists"), default=None)


def _current_artists(res: Resources, dt: date) -> list[str]:
    """The artist ids of the current state, when it is an older dt than dt (for the same dt
    the dt's own resolutions already hold them; an older dt does not become current)."""
    newest = newest_curated(res)
    if newest is None or newest >= dt:
        return []
    artists = res.lake.read_partition("artists", newest)
    return [] if artists is None else artists["artist_id"].to_pylist()


@dataclass
class _Run:
    """One call's state while its stages run."""

    res: Resources
    dt: date
    options: StageOptions
    recorder: RunRecorder
    progress: StepProgress
    validation: steps.ValidationResult | None = None
    curated: steps.Curated | None = None
    similarity: steps.Similarity | None = None
    current: bool | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        with self.recorder.step(name) as record:
            yield record
        self.progress(name, 1, 1)

    def land(self) -> None:
        res, dt, options = self.res, self.dt, self.options
        state = read_progress(res.lake, dt)
        landed = bool(state.artist_ids) and set(state.artist_ids) <= state.extracted
        if options.reuse_landed and landed and not options.queries:
            with self.step("extract") as step:
                step.status = "skipped"
                step.counts(len(state.artist_ids), len(state.artist_ids))
                step.details = {"from_raw_zone": True}
            return
        with open_source(
            res.settings,
            dump_mapping=dict(options.dump_mapping or {}),
            dump_delimiter=options.dump_delimiter,
        ) as source:
            given = options.queries
            asked = list(source.default_queries() if given is None else given)
            if options.add_to_current:
                asked += _current_artists(res, dt)
            if options.include_pending:
                asked += outbox.pending_queries(res.warehouse)
            with self.step("discover") as step:
                artist_ids = steps.discover(res, source, dt, asked, step)
                outbox.record_outcomes(res.warehouse, read_progress(res.lake, dt).resolutions)
                if not artist_ids:  # else the run goes on, and publishes an empty state
                    raise _nothing_matched(asked, step)
            with self.recorder.step("extract") as step:
                steps.extract(
                    res, source, dt, artist_ids, step, lambda d, t: self.progress("extract", d, t)
                )

    def decide_current(self) -> None:
        newest = newest_curated(self.res)
        self.current = newest is None or self.dt >= newest
        said = (
            f"updated (dt {self.dt} is the newest)"
            if self.current
            else f"left alone (newer dt {newest} is current)"
        )
        self.recorder.add_output(CURRENT_STATE, said)

    def curate(self) -> None:
        res, dt, options = self.res, self.dt, self.options
        with self.step("validate") as step:
            recorded = read_progress(res.lake, dt)
            mapping = options.dump_mapping
            source = (
                remapped(res.lake, dt, recorded.source, mapping)
                if recorded.source and mapping
                else None
            )
            checking = res
            if not options.reject_limit:
                unlimited = res.settings.model_copy(update={"max_reject_fraction": 1.0})
                checking = replace(res, settings=unlimited)
            self.validation = steps.validate_step(
                checking, dt, recorded.artist_ids, step, source=source
            )
        self.curated = self.validation.curated
        with self.step("load") as step:
            steps.load(res, dt, self.curated, step, warehouse=bool(self.current))

    def transform(self) -> None:
        with self.step("transform") as step:
            curated = self.curated or read_curated(self.res.lake, self.dt)
            self.curated = curated
            self.similarity = steps.transform(
                self.res, self.dt, curated, step, warehouse=bool(self.current)
            )

    def publish(self) -> None:
        with self.step("publish") as step:
            if not self.current:  # the serving store holds current state
                step.status = "skipped"
                return
            curated = self.curated or read_curated(self.res.lake, self.dt)
            similarity = self.similarity or read_similarity(self.res.lake, self.dt)
            steps.publish(self.res, self.dt, curated, similarity, step)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.curated is not None:
            counts.update(
                artists=self.curated.artists.num_rows,
                tracks=self.curated.tracks.num_rows,
                audio_features=self.curated.audio_features.num_rows,
            )
        if self.validation is not None:
            counts["quarantined"] = sum(
                r.counts["quarantined"] for r in self.validation.results.values()
            )
        if self.similarity is not None:
            counts["neighbours"] = self.similarity.related.num_rows
        return counts

    def tables(self) -> dict[str, pa.Table]:
        """What the report shows of the run's data."""
        tables: dict[str, pa.Table] = {}
        if self.curated is not None:
            tables.update(
                artists=self.curated.artists,
                audio_features=self.curated.audio_features,
                top_tracks=self.curated.top_tracks,
            )
        if self.similarity is not None:
            tables.update(related=self.similarity.related, vectors=self.similarity.vectors)
        return tables

    def close(self, failure: StepFailed | None) -> RunResult:
        self.recorder.run.outputs.update(self.res.outputs())
        self.recorder.finish(failure)
        report = None
        if self.options.report:
            tables = {} if failure else self.tables()
            report = write_report(
                self.res.settings.reports_dir / f"{self.recorder.run_id}.html",
                self.recorder.run,
                **tables,
            )
            self.recorder.add_output("report", str(report.resolve()))
        return RunResult(
            self.recorder.run, report, self.counts(), self.validation, self.similarity, self.current
        )


def _checked(stages: Sequence[str]) -> list[str]:
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise InputError(
            f"unknown stage {', '.join(unknown) or '(none given)'}: the stages are "
            + ", ".join(STAGES)
        )
    return [s for s in STAGES if s in stages]  # always in the pipeline's order


def check_dt(dt: date, what: str) -> None:
    """A dt is a day whose data a run lands: one past tomorrow is a typo (tomorrow is allowed,
    as it is today already in the time zones ahead of UTC)."""
    today = datetime.now(UTC).date()
    if dt > today + timedelta(days=1):
        raise InputError(
            f"{what} {dt} is in the future (today is {today}, UTC): give a date up to "
            f"{today + timedelta(days=1)}"
        )


def run_stages(
    settings: Settings,
    dt: date,
    stages: Sequence[str] = STAGES,
    options: StageOptions | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """Run the given stages for dt as one recorded run. Raises StepFailed after recording
    which step failed (the record, and the report unless options say no, written either
    way); RunLocked at once if another process holds the dt."""
    ordered = _checked(stages)
    check_dt(dt, "dt")
    options = options or StageOptions()
    holder = options.holder or f"{options.kind} for dt {dt}"
    with ExitStack() as held:
        res = held.enter_context(open_resources(settings))
        held.enter_context(dt_lock(settings.home, dt, holder))
        source = settings.source if "land" in ordered else "raw"
        recorder = RunRecorder(
            res.warehouse, settings.runs_dir, dt, kind=options.kind, source=source
        )
        run = _Run(res, dt, options, recorder, progress)
        try:
            if "land" in ordered:
                run.land()
            derive = [s for s in ordered if s != "land"]
            if derive:
                held.enter_context(current_lock(settings.home, holder))
                run.decide_current()
                for stage in derive:
                    {"curate": run.curate, "similarity": run.transform, "publish": run.publish}[
                        stage
                    ]()
        except StepFailed as failure:
            run.close(failure)
            raise
        return run.close(None)


def run_pipeline(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str] | None = None,
    include_pending: bool = True,
    dump_mapping: Mapping[str, str] | None = None,
    dump_delimiter: str | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """Every stage for dt (`tunelake run`)."""
    options = StageOptions(
        queries=queries,
        include_pending=include_pending,
        dump_mapping=dump_mapping,
        dump_delimiter=dump_delimiter,
    )
    return run_stages(settings, dt, STAGES, options, progress)


def landed_dates(settings: Settings, start: date, end: date) -> list[date]:
    """The dts in [start, end] whose raw zone holds discovered artists."""
    with open_resources(settings) as res:
        return [
            d
            for d in res.lake.raw_dates(PROGRESS)
            if start <= d <= end and read_progress(res.lake, d).artist_ids
        ]


def backfill(
    settings: Settings,
    *,
    start: date,
    end: date,
    dump_mapping: Mapping[str, str] | None = None,
    progress: StepProgress = _quiet,
) -> list[RunResult]:
    """Re-derive the curated partitions and similarity of every dt in [start, end] that has
    raw data, without calling any API; each dt as its own run, under the current-state rule."""
    if end < start:
        raise InputError(f"backfill range is empty: {start} is after {end}")
    check_dt(end, "backfill end")  # before any dt runs; start <= end is then checked too
    options = StageOptions(kind="backfill", dump_mapping=dump_mapping)
    return [
        run_stages(settings, dt, DERIVE_STAGES, options, progress)
        for dt in landed_dates(settings, start, end)
    ]
