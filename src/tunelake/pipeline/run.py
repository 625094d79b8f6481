"""One run: the steps in order, recorded, resumable; and backfills from the raw zone.

A re-run for the same dt resumes: discovery and extraction fetch only what the dt's raw zone
does not hold yet; the later steps re-derive everything from the raw zone and overwrite
whole partitions, so a failed or killed run, run again, ends in the same state as a clean one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from tunelake.config import Settings
from tunelake.errors import InputError
from tunelake.observability import RunRecord, RunRecorder, StepFailed
from tunelake.pipeline import steps
from tunelake.pipeline.lock import dt_lock
from tunelake.pipeline.progress import PROGRESS, read_progress
from tunelake.pipeline.resources import Resources, open_resources
from tunelake.report import write_report
from tunelake.sources.derive import remapped
from tunelake.sources.factory import open_source

STEPS = ("discover", "extract", "validate", "load", "transform", "publish")
DERIVE_STEPS = STEPS[2:]

StepProgress = Callable[[str, int, int], None]
"""(step, done, total): how a caller shows progress."""


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass
class RunResult:
    record: RunRecord
    report: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"


def _derive_and_publish(
    res: Resources,
    recorder: RunRecorder,
    dt: date,
    artist_ids: Sequence[str],
    progress: StepProgress,
    *,
    current: bool,
    dump_mapping: Mapping[str, str] | None = None,
) -> Derived:
    """validate → load → transform → publish for dt, from its raw zone. `current` says
    whether dt is the newest data: only then does it replace the warehouse's and the serving
    store's current state."""
    with recorder.step("validate") as step:
        recorded = read_progress(res.lake, dt).source
        source = (
            remapped(res.lake, dt, recorded, dump_mapping) if recorded and dump_mapping else None
        )
        checked = steps.validate_step(res, dt, artist_ids, step, source=source)
    progress("validate", 1, 1)
    curated = checked.curated
    with recorder.step("load") as step:
        steps.load(res, dt, curated, step, warehouse=current)
    progress("load", 1, 1)
    with recorder.step("transform") as step:
        similarity = steps.transform(res, dt, curated, step, warehouse=current)
    progress("transform", 1, 1)
    with recorder.step("publish") as step:
        if current:
            steps.publish(res, dt, curated, similarity, step)
        else:
            step.status = "skipped"
    progress("publish", 1, 1)
    counts = {
        "artists": curated.artists.num_rows,
        "tracks": curated.tracks.num_rows,
        "audio_features": curated.audio_features.num_rows,
        "quarantined": sum(r.counts["quarantined"] for r in checked.results.values()),
        "neighbours": similarity.related.num_rows,
    }
    return Derived(counts, curated, similarity)


@dataclass(frozen=True)
class Derived:
    counts: dict[str, int]
    curated: steps.Curated
    similarity: steps.Similarity

    def tables(self) -> dict[str, pa.Table]:
        """What the report shows of the run's data."""
        return {
            "artists": self.curated.artists,
            "audio_features": self.curated.audio_features,
            "top_tracks": self.curated.top_tracks,
            "related": self.similarity.related,
            "vectors": self.similarity.vectors,
        }


def _report(res: Resources, recorder: RunRecorder, derived: Derived | None) -> Path:
    """Write the HTML report of the closed run (a failed run's too, with the data it has)."""
    tables = {} if derived is None else derived.tables()
    report = write_report(
        res.settings.reports_dir / f"{recorder.run_id}.html", recorder.run, **tables
    )
    recorder.add_output("report", str(report.resolve()))
    return report


def _finish(res: Resources, recorder: RunRecorder, derived: Derived) -> RunResult:
    recorder.run.outputs.update(res.outputs())
    recorder.finish()
    report = _report(res, recorder, derived)
    return RunResult(recorder.run, report, derived.counts)


def _fail(res: Resources, recorder: RunRecorder, failure: StepFailed) -> None:
    recorder.run.outputs.update(res.outputs())
    recorder.finish(failure)
    _report(res, recorder, None)


def run_pipeline(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str] | None = None,
    include_pending: bool = True,
    dump_mapping: dict[str, str] | None = None,
    dump_delimiter: str | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """The main job for dt. queries None means the source's default seeds; pending ingest
    requests are added unless include_pending is False. Raises StepFailed after recording
    which step failed."""
    with (
        open_resources(settings) as res,
        dt_lock(settings.home, dt, f"run for dt {dt}"),
        open_source(settings, dump_mapping=dump_mapping, dump_delimiter=dump_delimiter) as source,
    ):
        recorder = RunRecorder(
            res.warehouse, settings.runs_dir, dt, kind="run", source=settings.source
        )
        try:
            asked = list(source.default_queries() if queries is None else queries)
            if include_pending:
                asked += [r["query"] for r in res.warehouse.pending_ingest_requests()]
            with recorder.step("discover") as step:
                artist_ids = steps.discover(res, source, dt, asked, step)
            progress("discover", 1, 1)
            with recorder.step("extract") as step:
                steps.extract(
                    res, source, dt, artist_ids, step, lambda d, t: progress("extract", d, t)
                )
            derived = _derive_and_publish(res, recorder, dt, artist_ids, progress, current=True)
        except StepFailed as failure:
            _fail(res, recorder, failure)
            raise
        return _finish(res, recorder, derived)


def backfill(
    settings: Settings,
    *,
    start: date,
    end: date,
    dump_mapping: Mapping[str, str] | None = None,
    progress: StepProgress = _quiet,
) -> list[RunResult]:
    """Re-derive the curated partitions and similarity of every dt in [start, end] that has
    raw data, without calling any API. A dt older than the newest curated partition leaves
    the warehouse and the serving store alone: they hold current state."""
    if end < start:
        raise InputError(f"backfill range is empty: {start} is after {end}")
    results = []
    with open_resources(settings) as res:
        landed = [d for d in res.lake.raw_dates(PROGRESS) if start <= d <= end]
        for dt in landed:
            ids = read_progress(res.lake, dt).artist_ids
            if not ids:
                continue
            newest = max(res.lake.partitions("artists"), default=dt)
            with dt_lock(settings.home, dt, f"backfill of dt {dt}"):
                recorder = RunRecorder(
                    res.warehouse, settings.runs_dir, dt, kind="backfill", source="raw"
                )
                try:
                    derived = _derive_and_publish(
                        res,
                        recorder,
                        dt,
                        ids,
                        progress,
                        current=dt >= newest,
                        dump_mapping=dump_mapping,
                    )
                except StepFailed as failure:
                    _fail(res, recorder, failure)
                    raise
                results.append(_finish(res, recorder, derived))
    return results
