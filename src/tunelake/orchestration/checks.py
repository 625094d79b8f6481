"""Data quality as asset checks, per daily partition, over what the lake holds for the dt.

- `rejects_fraction` (each curated dataset): quarantined rows over rows received stay within
  `max_reject_fraction`. In Dagster this is where the limit is enforced (see assets.py).
- `contract` (each curated dataset): every row of the partition passes its dataset's
  contract again — ids, required fields, value ranges — and references what it points at,
  by the one table of referential rules (`tunelake.validate.REFERENCES`); related_artists
  too (both of its artists known).
- `neighbours` (related_artists): every artist with a vector has min(k, N-1) neighbours,
  none of them itself.
- `freshness` (serving_documents, not partitioned): the newest partition is recent enough.

The partition checks are blocking: a failure stops that partition's downstream assets in the
run, and the automation waits for them to pass before starting downstream runs.
"""

import warnings
from collections import Counter
from datetime import UTC, datetime, time

import dagster as dg
import pyarrow as pa

from tunelake.ids import SPOTIFY_ID
from tunelake.orchestration.assets import CURATED_ASSETS, DAILY
from tunelake.orchestration.resources import TunelakeResource, automation, partition_dt
from tunelake.pipeline.progress import read_progress
from tunelake.pipeline.resources import reading_lake
from tunelake.validate import (
    REFERENCES,
    TooManyRejects,
    Validated,
    check_reject_fraction,
    quarantined_ids,
    validate,
)
from tunelake.validate import contract as contract_of

# Partitioned asset checks are a Dagster preview feature, used on purpose (a check per dt):
# without this, every process that loads the definitions (the code servers, each run and
# step) logs the same PreviewWarning once per check, 50 lines in a day's daemon log.
warnings.filterwarnings(
    "ignore",
    message="Specifying a partitions_def on an AssetCheckSpec",
    category=dg.PreviewWarning,
)


def _missing(dataset: str, dt: object) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, metadata={"reason": f"no {dataset} partition for dt {dt} in the lake"}
    )


def _rejects_check(dataset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dataset,
        name="rejects_fraction",
        blocking=True,
        partitions_def=DAILY,
        description=f"Quarantined {dataset} rows stay within max_reject_fraction.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, tunelake: TunelakeResource
    ) -> dg.AssetCheckResult:
        settings = tunelake.settings()
        lake, dt = reading_lake(settings), partition_dt(context)
        valid = lake.read_partition(dataset, dt)
        if valid is None:
            return _missing(dataset, dt)
        rejected = lake.read_quarantine(dataset, dt)
        if rejected is None:
            rejected = pa.table({"reason": pa.array([], pa.string())})
        result = Validated(valid, rejected)
        meta = {**result.counts, "max_reject_fraction": settings.max_reject_fraction}
        try:
            check_reject_fraction({dataset: result}, settings.max_reject_fraction)
        except TooManyRejects as exc:
            reason = " ".join(str(exc).split())  # one line: alerts show a line
            return dg.AssetCheckResult(passed=False, metadata={**meta, "reason": reason})
        return dg.AssetCheckResult(passed=True, metadata=meta)

    return check


def _contract_check(dataset: str) -> dg.AssetChecksDefinition:
    references = REFERENCES[dataset]

    @dg.asset_check(
        asset=dataset,
        name="contract",
        blocking=True,
        partitions_def=DAILY,
        additional_deps=sorted({r.parent for r in references if r.parent != dataset}),
        description=f"Every {dataset} row passes its contract (ids, ranges, references).",
    )
    def check(
        context: dg.AssetCheckExecutionContext, tunelake: TunelakeResource
    ) -> dg.AssetCheckResult:
        lake, dt = reading_lake(tunelake.settings()), partition_dt(context)
        table = lake.read_partition(dataset, dt)
        if table is None:
            return _missing(dataset, dt)
        known: dict[str, pa.ChunkedArray] = {}
        quarantined: dict[str, dict[str, str]] = {}
        for ref in references:
            other = lake.read_partition(ref.parent, dt)
            if other is None:
                return _missing(ref.parent, dt)
            known[ref.column] = other[ref.key]
            rejected = lake.read_quarantine(ref.parent, dt)
            if rejected is not None:  # a row pointing at one says its parent's reason
                quarantined[ref.column] = quarantined_ids(Validated(other, rejected), ref.key)
        # ids as the dt's source declares them (a dump's are of its own making)
        recorded = read_progress(lake, dt).source
        ids = recorded.id_pattern if recorded else SPOTIFY_ID
        result = validate(
            contract_of(dataset, id_pattern=ids),
            table,
            references=known,
            quarantined=quarantined,
        )
        reasons = Counter(result.rejected["reason"].to_pylist())
        return dg.AssetCheckResult(
            passed=result.rejected.num_rows == 0,
            metadata={
                "reason": f"{result.rejected.num_rows} of {table.num_rows} rows break the contract",
                "rows": table.num_rows,
                "failing_rows": result.rejected.num_rows,
                "reasons": dict(reasons.most_common(5)),
            },
        )

    return check


@dg.asset_check(
    asset="related_artists",
    name="neighbours",
    blocking=True,
    partitions_def=DAILY,
    additional_deps=["artist_vectors"],
    description="Every artist with a vector has min(k, N-1) neighbours, never itself.",
)
def neighbours(
    context: dg.AssetCheckExecutionContext, tunelake: TunelakeResource
) -> dg.AssetCheckResult:
    settings = tunelake.settings()
    lake, dt = reading_lake(settings), partition_dt(context)
    vectors, related = (
        lake.read_partition("artist_vectors", dt),
        lake.read_partition("related_artists", dt),
    )
    if vectors is None or related is None:
        return _missing("artist_vectors" if vectors is None else "related_artists", dt)
    artists = set(vectors["artist_id"].to_pylist())
    expected = min(settings.similarity_k, max(len(artists) - 1, 0))
    pairs = zip(
        related["artist_id"].to_pylist(), related["related_artist_id"].to_pylist(), strict=True
    )
    counts: Counter[str] = Counter()
    selves = 0
    for artist, other in pairs:
        counts[artist] += 1
        selves += artist == other
    wrong = sorted(a for a in artists if counts[a] != expected)
    strangers = sorted(set(counts) - artists)
    return dg.AssetCheckResult(
        passed=not wrong and not strangers and not selves,
        metadata={
            "reason": f"{len(wrong)} artists without {expected} neighbours, {selves} self-neighbours, "
            f"{len(strangers)} neighbour sets without a vector",
            "artists_with_vectors": len(artists),
            "expected_neighbours": expected,
            "artists_with_other_counts": len(wrong),
            "first_wrong": ", ".join(wrong[:5]),
            "neighbour_sets_without_vector": len(strangers),
            "self_neighbours": selves,
        },
    )


@dg.asset_check(
    asset="serving_documents",
    name="freshness",
    description="The newest related_artists partition is at most freshness_hours old.",
    # hourly; Dagster types the condition for assets, but checks take it as well
    automation_condition=dg.AutomationCondition.cron_tick_passed("0 * * * *"),  # type: ignore[arg-type]
)
def freshness(tunelake: TunelakeResource) -> dg.AssetCheckResult:
    limit = automation().freshness_hours
    newest = max(reading_lake(tunelake.settings()).partitions("related_artists"), default=None)
    if newest is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no partition yet"})
    # a dt's data counts as of the end of its day
    age = datetime.now(UTC) - datetime.combine(newest, time.max, UTC)
    hours = max(age.total_seconds() / 3600, 0.0)
    return dg.AssetCheckResult(
        passed=hours <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "reason": f"the newest dt, {newest}, is {hours:.0f} h old (limit {limit:.0f} h)",
            "newest_dt": newest.isoformat(),
            "age_hours": round(hours, 1),
            "limit_hours": limit,
        },
    )


CHECKS = [
    *(_rejects_check(name) for name in CURATED_ASSETS),
    *(_contract_check(name) for name in (*CURATED_ASSETS, "related_artists")),
    neighbours,
    freshness,
]
