"""The pipeline's datasets as Dagster assets, one daily partition per dt.

Each asset body is one call to the stage runner `tunelake run` uses (pipeline/run.py, through
tunelake.app): the runner holds the locks, records the run and keeps the current-state rule;
a stage run alone reads its upstream from the lake for its dt, never from memory handed over
in one process, so any asset can be materialised alone, in a run of its own, for any dt.

    raw_responses ─► artists, tracks, top_tracks, audio_features ─► artist_vectors,
    (discover+extract)   (validate+load)                            related_artists (transform)
                                                                 ─► serving_documents (publish)

Downstream assets start when their upstream partition is materialised and its blocking
checks passed (declarative automation); the daily schedule and the outbox sensor start
raw_responses.
"""

from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from tunelake.orchestration.resources import (
    TunelakeResource,
    automation,
    metadata_of,
    partition_dt,
    today,
)
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import reading_lake
from tunelake.pipeline.run import CURRENT_STATE, RunResult
from tunelake.storage.lake.port import Lake

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
# (2, 4, … 64 s); run_stage fails any other at once.
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


def _settings_lake(tunelake: TunelakeResource) -> Lake:
    return reading_lake(tunelake.settings())


def _written(lake: Lake, datasets: tuple[str, ...], dt: date) -> dict[str, dict[str, Any]]:
    """What each dataset's write left in the lake: the Iceberg snapshot it committed (a
    reader can time-travel to it: `tunelake sql --as-of SNAPSHOT_ID`) and the dt's files."""
    return {
        name: {
            "lake_snapshot": lake.snapshot_id(name),
            "files_written": ", ".join(lake.files(name).get(dt, [])),
        }
        for name in datasets
    }


def _landed(tunelake: TunelakeResource, result: RunResult) -> dg.MaterializeResult:
    step = result.step("extract")
    lake = _settings_lake(tunelake)
    progress = read_progress(lake, result.record.dt)
    return dg.MaterializeResult(
        metadata={
            **metadata_of(step),
            "artists": len(progress.artist_ids),
            "resolved_queries": len(progress.resolutions),
            "from_raw_zone": step.status == "skipped",
            "raw_endpoints": ", ".join(lake.raw_endpoints(result.record.dt)),
            "run": result.record.run_id,
        }
    )


def _current_metadata(result: RunResult) -> dict[str, Any]:
    return {
        "warehouse_updated": bool(result.current),
        "current_state": result.record.outputs.get(CURRENT_STATE, ""),
        "run": result.record.run_id,
    }


def _curated(tunelake: TunelakeResource, result: RunResult) -> Iterator[dg.MaterializeResult]:
    assert result.validation is not None  # the curate stage ran
    written = _written(_settings_lake(tunelake), CURATED_ASSETS, result.record.dt)
    for name in CURATED_ASSETS:
        counts = result.validation.results[name].counts
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": counts["out"],
                "rows_in": counts["in"],
                "quarantined": counts["quarantined"],
                **written[name],
                **_current_metadata(result),
            },
        )


def _similar(tunelake: TunelakeResource, result: RunResult) -> Iterator[dg.MaterializeResult]:
    assert result.similarity is not None  # the similarity stage ran
    written = _written(_settings_lake(tunelake), SIMILARITY_ASSETS, result.record.dt)
    step = result.step("transform")
    tables = {
        "artist_vectors": result.similarity.vectors,
        "related_artists": result.similarity.related,
    }
    for name in SIMILARITY_ASSETS:
        extra = {"without_features": step.details["without_features"]}
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": tables[name].num_rows,
                **written[name],
                **_current_metadata(result),
                **(extra if name == "artist_vectors" else {}),
            },
        )


def _published(tunelake: TunelakeResource, result: RunResult) -> dg.MaterializeResult:
    step = result.step("publish")
    return dg.MaterializeResult(
        metadata={
            "documents": step.rows_out,
            "skipped_older_dt": step.status == "skipped",
            "serving": tunelake.settings().resolved_serving_url,
            **_current_metadata(result),
        }
    )


@dg.asset(
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    group_name=GROUP,
    kinds={"python"},
    description="land (discover + extract): the source's responses, unchanged, in the lake's "
    "raw zone.",
)
def raw_responses(
    context: dg.AssetExecutionContext, config: ExtractConfig, tunelake: TunelakeResource
) -> dg.MaterializeResult:
    # requested artists (the outbox sensor) are added to the current state, as an ingest;
    # a past dt whose raw zone holds its extraction (a backfill) needs no source, no API
    return _landed(
        tunelake,
        tunelake.run_stage(
            context,
            "land",
            queries=config.artists or None,
            add_to_current=bool(config.artists),
            reuse_landed=partition_dt(context) < today(automation().schedule_timezone),
        ),
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[raw_responses],
            group_name=GROUP,
            kinds={"iceberg"},
            automation_condition=ON_UPSTREAM,
            description=f"curate (validate + load): the dt's valid {name}; rejects in the lake "
            f"table quarantine_{name}.",
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
    yield from _curated(tunelake, tunelake.run_stage(context, "curate"))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=list(CURATED_ASSETS),
            group_name=GROUP,
            kinds={"iceberg", "numpy"},
            automation_condition=ON_UPSTREAM,
        )
        for name in SIMILARITY_ASSETS
    ],
    partitions_def=DAILY,
    retry_policy=TRANSIENT_RETRY,
    name="transform",
    description="similarity (transform): artist vectors and exact top-k neighbours.",
)
def similarity(
    context: dg.AssetExecutionContext, tunelake: TunelakeResource
) -> Iterator[dg.MaterializeResult]:
    yield from _similar(tunelake, tunelake.run_stage(context, "similarity"))


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
    return _published(tunelake, tunelake.run_stage(context, "publish"))


ASSETS = [raw_responses, curated, similarity, serving_documents]
