"""The pipeline's datasets as Dagster assets, one daily partition per dt.

Each asset calls the step function `tunelake run` calls (pipeline/steps.py), and reads its
upstream from the lake for its dt (pipeline/inputs.py), never from memory handed over in one
process: any asset can be materialised alone, in a run of its own, for any dt.

    raw_responses ─► artists, tracks, top_tracks, audio_features ─► artist_vectors,
    (discover+extract)   (validate+load)                            related_artists (transform)
                                                                 ─► serving_documents (publish)

Downstream assets start when their upstream partition is materialised and its blocking
checks passed (declarative automation); the daily schedule and the outbox sensor start
raw_responses.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from tunelake.orchestration.resources import (
    TunelakeResource,
    asset_step,
    automation,
    metadata_of,
    today,
)
from tunelake.pipeline import steps
from tunelake.pipeline.inputs import read_curated, read_similarity
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import Resources
from tunelake.sources.factory import open_source

DAILY = dg.DailyPartitionsDefinition(
    start_date=automation().partitions_start.isoformat(),
    timezone=automation().schedule_timezone,
    end_offset=1,  # today's dt is a partition from the start of the day, as for `tunelake run`
)

GROUP = "tunelake"  # one group: the lineage page shows the whole pipeline at once
CURATED_ASSETS = ("artists", "tracks", "top_tracks", "audio_features")
SIMILARITY_ASSETS = ("artist_vectors", "related_artists")

# Transient failures (rate limits, a backend down, the dt or the current state locked by
# another writer) are retried with exponential backoff and jitter, about two minutes in all
# (2, 4, … 64 s); asset_step fails any other at once.
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=6, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Downstream of a materialised partition whose blocking checks passed, in the latest dt.
ON_UPSTREAM = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)


class ExtractConfig(dg.Config):
    artists: list[str] = Field(default_factory=list)
    """Names or ids to ingest (the outbox sensor's pending requests); none: the seeds."""


@dg.asset(
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    group_name=GROUP,
    kinds={"python"},
    description="discover + extract: the API's responses, unchanged, in the lake's raw zone.",
)
def raw_responses(
    context: dg.AssetExecutionContext, config: ExtractConfig, tunelake: TunelakeResource
) -> dg.MaterializeResult:
    settings = tunelake.settings()
    with asset_step(context, tunelake, settings.source, writes_current=False) as run:
        state = read_progress(run.res.lake, run.dt)
        landed = bool(state.artist_ids) and set(state.artist_ids) <= state.extracted
        if landed and not config.artists and run.dt < today(automation().schedule_timezone):
            # a past dt whose raw zone holds its extraction (a backfill): no source, no API
            with run.recorder.step("extract") as step:
                step.status = "skipped"
                step.counts(len(state.artist_ids), len(state.artist_ids))
        else:
            with open_source(settings) as source:
                queries = config.artists or source.default_queries()
                with run.recorder.step("discover") as found:
                    steps.discover(run.res, source, run.dt, queries, found)
                with run.recorder.step("extract") as step:
                    ids = read_progress(run.res.lake, run.dt).artist_ids
                    steps.extract(run.res, source, run.dt, ids, step)
        progress = read_progress(run.res.lake, run.dt)
        return dg.MaterializeResult(
            metadata={
                **metadata_of(step),
                "artists": len(progress.artist_ids),
                "resolved_queries": len(progress.resolutions),
                "from_raw_zone": step.status == "skipped",
                "raw_endpoints": ", ".join(run.res.lake.raw_endpoints(run.dt)),
            }
        )


def _written(res: Resources, datasets: tuple[str, ...], dt: date) -> dict[str, dict[str, Any]]:
    """What each dataset's write left in the lake: the Iceberg snapshot it committed (a
    reader can time-travel to it: `tunelake sql --as-of SNAPSHOT_ID`) and the dt's files."""
    return {
        name: {
            "lake_snapshot": res.lake.snapshot_id(name),
            "files_written": ", ".join(res.lake.files(name).get(dt, [])),
        }
        for name in datasets
    }


def _without_reject_limit(res: Resources) -> Resources:
    """In Dagster the reject limit is the blocking check `rejects_fraction`: the partition and
    its quarantine are written and can be inspected, and the check stops what is downstream."""
    return replace(res, settings=res.settings.model_copy(update={"max_reject_fraction": 1.0}))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[raw_responses],
            group_name=GROUP,
            kinds={"parquet"},
            automation_condition=ON_UPSTREAM,
            description=f"validate + load: the dt's valid {name}; rejects in _quarantine/{name}.",
        )
        for name in CURATED_ASSETS
    ],
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    name="validate_and_load",
)
def curated(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> Iterator[dg.MaterializeResult]:
    with asset_step(context, tunelake) as run:
        ids = read_progress(run.res.lake, run.dt).artist_ids
        current = run.current
        with run.recorder.step("validate") as step:
            checked = steps.validate_step(_without_reject_limit(run.res), run.dt, ids, step)
        with run.recorder.step("load") as loaded:
            steps.load(run.res, run.dt, checked.curated, loaded, warehouse=current)
        written = _written(run.res, CURATED_ASSETS, run.dt)
    for name in CURATED_ASSETS:
        counts = checked.results[name].counts
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": counts["out"],
                "rows_in": counts["in"],
                "quarantined": counts["quarantined"],
                **written[name],
                "warehouse_updated": current,
            },
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=list(CURATED_ASSETS),
            group_name=GROUP,
            kinds={"parquet", "numpy"},
            automation_condition=ON_UPSTREAM,
        )
        for name in SIMILARITY_ASSETS
    ],
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    name="transform",
    description="transform: artist vectors and exact top-k neighbours.",
)
def similarity(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> Iterator[dg.MaterializeResult]:
    with asset_step(context, tunelake) as run:
        current = run.current
        curated = read_curated(run.res.lake, run.dt)
        with run.recorder.step("transform") as step:
            result = steps.transform(run.res, run.dt, curated, step, warehouse=current)
        written = _written(run.res, SIMILARITY_ASSETS, run.dt)
    tables = {"artist_vectors": result.vectors, "related_artists": result.related}
    for name in SIMILARITY_ASSETS:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": tables[name].num_rows,
                **written[name],
                "warehouse_updated": current,
                **(
                    {"without_features": step.details["without_features"]}
                    if name == "artist_vectors"
                    else {}
                ),
            },
        )


@dg.asset(
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    deps=["artists", "tracks", "top_tracks", "related_artists"],
    group_name=GROUP,
    kinds={"python"},
    automation_condition=ON_UPSTREAM,
    description="publish: one document per artist in the serving store (the newest dt only).",
)
def serving_documents(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> dg.MaterializeResult:
    with asset_step(context, tunelake) as run, run.recorder.step("publish") as step:
        if run.current:
            curated = read_curated(run.res.lake, run.dt)
            steps.publish(run.res, run.dt, curated, read_similarity(run.res.lake, run.dt), step)
        else:  # the serving store holds current state: an older dt leaves it alone
            step.status = "skipped"
        return dg.MaterializeResult(
            metadata={
                "documents": step.rows_out,
                "skipped_older_dt": step.status == "skipped",
                "serving": run.res.serving.url,
            }
        )


ASSETS = [raw_responses, curated, similarity, serving_documents]
