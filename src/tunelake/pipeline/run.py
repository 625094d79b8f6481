"""One run: the steps in order, recorded, resumable; and backfills from the raw zone.

A re-run for the same dt resumes: discovery and extraction fetch only what the dt's raw zone
does not hold yet; the later steps re-derive everything from the raw zone and overwrite
whole partitions, so a failed or killed run, run again, ends in the same state as a clean one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tunelake.config import Settings
from tunelake.observability import RunRecorder, StepFailed
from tunelake.pipeline import steps
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import Resources, open_resources
from tunelake.report import write_report
from tunelake.sources.factory import open_source

STEPS = ("discover", "extract", "validate", "load", "transform", "publish")
DERIVE_STEPS = STEPS[2:]

StepProgress = Callable[[str, int, int], None]
"""(step, done, total): how a caller shows progress."""


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass
class RunResult:
    record: dict[str, Any]
    report: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.record["status"] == "ok")


def _derive_and_publish(
    res: Resources,
    recorder: RunRecorder,
    dt: date,
    artist_ids: Sequence[str],
    progress: StepProgress,
    *,
    current: bool,
) -> Derived:
    """validate → load → transform → publish for dt, from its raw zone. `current` says
    whether dt is the newest data: only then does it replace the warehouse's and the serving
    store's current state."""
    with recorder.step("validate") as step:
        checked = steps.validate_step(res, dt, artist_ids, step)
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


def _finish(res: Resources, recorder: RunRecorder, derived: Derived) -> RunResult:
    """Close the run record, then write the HTML report of the finished run."""
    recorder.outputs.update(res.outputs())
    record = recorder.finish()
    report = write_report(
        res.settings.reports_dir / f"{recorder.run_id}.html",
        record,
        artists=derived.curated.artists,
        audio_features=derived.curated.audio_features,
        top_tracks=derived.curated.top_tracks,
        related=derived.similarity.related,
        vectors=derived.similarity.vectors,
    )
    recorder.add_output("report", str(report.resolve()))
    return RunResult(recorder.as_dict(), report, derived.counts)


def run_pipeline(
    settings: Settings,
    *,
    dt: date,
    queries: Sequence[str] | None = None,
    include_pending: bool = True,
    dump_mapping: dict[str, str] | None = None,
    progress: StepProgress = _quiet,
) -> RunResult:
    """The main job for dt. queries None means the source's default seeds; pending ingest
    requests are added unless include_pending is False. Raises StepFailed after recording
    which step failed."""
    with (
        open_resources(settings) as res,
        open_source(settings, dump_mapping=dump_mapping) as source,
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
            recorder.finish(failure.cause)
            raise
        return _finish(res, recorder, derived)


def backfill(
    settings: Settings,
    *,
    start: date,
    end: date,
    progress: StepProgress = _quiet,
) -> list[RunResult]:
    """Re-derive the curated partitions and similarity of every dt in [start, end] that has
    raw data, without calling any API. A dt older than the newest curated partition leaves
    the warehouse and the serving store alone: they hold current state."""
    if end < start:
        raise ValueError(f"backfill range is empty: {start} is after {end}")
    results = []
    with open_resources(settings) as res:
        landed = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        landed = [d for d in landed if read_progress(res.lake, d).artist_ids]
        for dt in landed:
            newest = max(res.lake.partitions("artists"), default=dt)
            recorder = RunRecorder(
                res.warehouse, settings.runs_dir, dt, kind="backfill", source="raw"
            )
            try:
                ids = read_progress(res.lake, dt).artist_ids
                derived = _derive_and_publish(
                    res, recorder, dt, ids, progress, current=dt >= newest
                )
            except StepFailed as failure:
                recorder.finish(failure.cause)
                raise
            results.append(_finish(res, recorder, derived))
    return results
