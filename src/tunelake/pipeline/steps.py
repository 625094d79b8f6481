"""The steps of one run, as plain functions over explicit inputs and outputs.

discover → extract → validate → load → transform → publish (DESIGN.md, "The flow of one run").
Each step takes the `Resources` it writes to and returns what the next step needs; each
fills the `StepRecord` it is given with its counts. Entry points (the CLI; later Dagster)
and the tests call these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from tunelake.engines.similarity import related_artists
from tunelake.engines.vectors import VectorLoss, artist_vectors, check_vectors
from tunelake.ids import SPOTIFY_ID
from tunelake.listening import NO_PLAYS, play_counts
from tunelake.observability import StepRecord, now
from tunelake.pipeline.progress import (
    Progress,
    read_progress,
    record_discovered,
    record_extracted,
    record_source,
)
from tunelake.pipeline.resources import Resources
from tunelake.recommendations import with_related_by
from tunelake.sources.derive import derive
from tunelake.sources.port import Source, SourceInfo
from tunelake.storage.lake import IcebergLake
from tunelake.validate import Validated, check_reject_fraction, contract, validate_datasets

OnProgress = Callable[[int, int], None]
"""Called with (done, total) as a step advances."""


def _no_progress(done: int, total: int) -> None:
    return None


def discover(
    res: Resources,
    source: Source,
    dt: date,
    queries: Sequence[str],
    step: StepRecord,
) -> list[str]:
    """Resolve the queries not yet resolved for dt. Returns the dt's artist ids (all
    resolutions so far); the stage runner records the ingest requests' outcome."""
    record_source(res.lake, dt, source.info)
    done = read_progress(res.lake, dt).resolutions
    todo = [q for q in dict.fromkeys(queries) if q not in done]
    resolved = source.resolve(todo) if todo else []
    source.land(res.lake, dt)
    record_discovered(res.lake, dt, source.info, resolved)
    everything = {**done, **{r.query: r for r in resolved}}
    ids = Progress(everything, set()).artist_ids
    unresolved = [r for r in everything.values() if r.status != "resolved"]
    step.counts(len(everything), len(ids))
    step.details = {
        "queried_now": len(todo),
        "ambiguous": sum(r.status == "ambiguous" for r in unresolved),
        "not_found": sum(r.status == "not_found" for r in unresolved),
    }
    return ids


def extract(
    res: Resources,
    source: Source,
    dt: date,
    artist_ids: Sequence[str],
    step: StepRecord,
    progress: OnProgress = _no_progress,
) -> None:
    """Fetch the artists not yet extracted for dt, landing raw responses chunk by chunk."""
    state = read_progress(res.lake, dt)
    todo = [a for a in artist_ids if a not in state.extracted]
    known_tracks = (
        {f["track_id"] for f in derive(res.lake, dt, artist_ids, source.info).audio_features}
        if todo
        else set()
    )
    landed = 0
    size = res.settings.extract_chunk
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        source.fetch(chunk, known_tracks)
        landed += source.land(res.lake, dt)
        record_extracted(res.lake, dt, source.info, chunk)
        progress(start + len(chunk), len(todo))
    step.counts(len(artist_ids), len(artist_ids))
    step.details = {
        "fetched_now": len(todo),
        "already_extracted": len(artist_ids) - len(todo),
        "raw_records": landed,
        **source.details(),
    }


@dataclass(frozen=True)
class Curated:
    """The dt's valid datasets, each in its `tunelake.datasets` schema."""

    artists: pa.Table
    tracks: pa.Table
    top_tracks: pa.Table
    audio_features: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {
            "artists": self.artists,
            "tracks": self.tracks,
            "top_tracks": self.top_tracks,
            "audio_features": self.audio_features,
        }


@dataclass(frozen=True)
class ValidationResult:
    curated: Curated
    results: dict[str, Validated]


#: The source of a dt landed before sources recorded themselves: the API, the only one then
#: whose raw data derivation could read back.
_UNRECORDED = SourceInfo(kind="api", name="raw", id_pattern=SPOTIFY_ID)


def validate_step(
    res: Resources,
    dt: date,
    artist_ids: Sequence[str],
    step: StepRecord,
    *,
    source: SourceInfo | None = None,
) -> ValidationResult:
    """Rebuild the dt's records from the raw zone and check them against the contracts;
    rejects go to quarantine with their reason. Fails past the configured reject fraction.
    The raw zone is read as the source recorded for the dt declares, unless `source` says
    otherwise (a backfill with a corrected dump mapping)."""
    source = source or read_progress(res.lake, dt).source or _UNRECORDED
    extracted = derive(res.lake, dt, artist_ids, source)
    results = validate_datasets(
        {
            "artists": extracted.artists,
            "tracks": extracted.tracks,
            "top_tracks": extracted.top_tracks,
            "audio_features": extracted.audio_features,
        },
        lambda name: contract(name, id_pattern=source.id_pattern),
    )
    artists, tracks, top, features = (
        results[name] for name in ("artists", "tracks", "top_tracks", "audio_features")
    )
    for name, result in results.items():
        res.lake.quarantine(name, dt, result.rejected)
    rows_in = sum(r.counts["in"] for r in results.values())
    rows_out = sum(r.counts["out"] for r in results.values())
    step.counts(rows_in, rows_out, rows_in - rows_out)
    step.details = {name: r.counts for name, r in results.items()}
    check_reject_fraction(results, res.settings.max_reject_fraction)
    curated = Curated(artists.valid, tracks.valid, top.valid, features.valid)
    return ValidationResult(curated, results)


def _with_dt(table: pa.Table, dt: date) -> pa.Table:
    return table.append_column("dt", pa.array([dt] * table.num_rows, pa.date32()))


def load(
    res: Resources, dt: date, curated: Curated, step: StepRecord, *, warehouse: bool = True
) -> None:
    """Whole-partition overwrite in the lake; idempotent upserts into the warehouse
    (an artist's top tracks replace its previous set)."""
    for name, table in curated.tables().items():
        res.lake.write_partition(name, dt, table)
    if warehouse:
        res.warehouse.upsert("artists", curated.artists)
        res.warehouse.upsert("tracks", curated.tracks)
        res.warehouse.upsert("audio_features", curated.audio_features)
        res.warehouse.replace_children("top_tracks", "artist_id", _with_dt(curated.top_tracks, dt))
    total = sum(t.num_rows for t in curated.tables().values())
    step.counts(total, total)
    step.details = {"warehouse": warehouse}


@dataclass(frozen=True)
class Similarity:
    vectors: pa.Table
    related: pa.Table


def transform(
    res: Resources, dt: date, curated: Curated, step: StepRecord, *, warehouse: bool = True
) -> Similarity:
    """Artist vectors (mean of top-track features, min-max normalised) and exact top-k
    Euclidean neighbours; related_artists replaces each artist's previous set."""
    settings = res.settings
    if settings.similarity_engine == "spark":
        from tunelake.engines import spark  # the spark extra is optional

        # Spark reads the dt's inputs from the lake (the load step wrote them) and writes back
        # files that it commits to the Iceberg tables itself (the lake's EngineWritesPort).
        vectors, related = spark.transform(
            spark.session(settings.spark_master),
            res.lake,
            dt,
            settings.vector_features,
            settings.similarity_k,
        )
        loss = _check_vectors(curated, vectors, settings.vector_features)
    else:
        vectors = artist_vectors(
            curated.top_tracks, curated.audio_features, settings.vector_features
        )
        # checked before anything is written: a similarity of nothing is not stored
        loss = _check_vectors(curated, vectors, settings.vector_features)
        related = related_artists(vectors, settings.similarity_k)
        res.lake.write_partition("artist_vectors", dt, vectors)
        res.lake.write_partition("related_artists", dt, related)
    # The last lake write of a run: expire old snapshots, so the lake does not grow unbounded.
    vacuumed = res.lake.vacuum(timedelta(days=settings.lake_snapshot_retention_days))
    if warehouse:
        res.warehouse.replace_children("related_artists", "artist_id", _with_dt(related, dt))
    step.counts(curated.artists.num_rows, related.num_rows)
    step.details = {
        "engine": settings.similarity_engine,
        "vectors": vectors.num_rows,
        "without_features": curated.artists.num_rows - vectors.num_rows,
        "without_vector": loss.without_vector,
        "lake_files_removed": sum(v.removed_files for v in vacuumed),
    }
    if loss.without_vector:
        # said on the run's summary and in its record: fewer artists have neighbours
        step.details["warning"] = loss.summary()
    return Similarity(vectors, related)


def _check_vectors(curated: Curated, vectors: pa.Table, features: Sequence[str]) -> VectorLoss:
    """Fails the transform when no artist with top tracks got a vector (NoVectors)."""
    return check_vectors(curated.top_tracks, curated.audio_features, vectors, features)


def _by(table: pa.Table, key: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        grouped.setdefault(row[key], []).append(row)
    return grouped


def documents(
    curated: Curated,
    related: pa.Table,
    dt: date,
    plays: Mapping[str, Mapping[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """One denormalised document per artist: the artist, genres, top tracks, related
    artists with their names and images, and its plays ({"dt": on dt, "7d": in the 7 days
    ending with dt}; zeros for an artist nobody played)."""
    plays = plays or {}
    artists = {a["artist_id"]: a for a in curated.artists.to_pylist()}
    tracks = {t["track_id"]: t for t in curated.tracks.to_pylist()}
    top = _by(
        curated.top_tracks.sort_by([("artist_id", "ascending"), ("rank", "ascending")]), "artist_id"
    )
    near = _by(related.sort_by([("artist_id", "ascending"), ("rank", "ascending")]), "artist_id")
    updated_at = now().isoformat()
    docs = []
    for artist_id, artist in artists.items():
        docs.append(
            {
                **artist,
                "genres": artist["genres"] or [],
                "top_tracks": [
                    {"rank": t["rank"], **_track_summary(tracks[t["track_id"]])}
                    for t in top.get(artist_id, [])
                ],
                "related_artists": [
                    {
                        "rank": r["rank"],
                        "artist_id": r["related_artist_id"],
                        "name": artists[r["related_artist_id"]]["name"],
                        "image_url": artists[r["related_artist_id"]]["image_url"],
                        "distance": r["distance"],
                    }
                    for r in near.get(artist_id, [])
                ],
                "plays": dict(plays.get(artist_id) or NO_PLAYS),
                "dt": dt.isoformat(),
                "updated_at": updated_at,
            }
        )
    return docs


def _track_summary(track: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "track_id",
        "name",
        "album_name",
        "release_date",
        "duration_ms",
        "popularity",
        "preview_url",
    )
    return {k: track[k] for k in keys}


def publish(
    res: Resources, dt: date, curated: Curated, similarity: Similarity, step: StepRecord
) -> int:
    """One document per artist into the serving store, with its plays from the lake."""
    assert isinstance(res.lake, IcebergLake)  # open_resources opens no other lake
    docs = documents(curated, similarity.related, dt, play_counts(res.lake, dt))
    # every method's neighbours (related_by); related_artists = the configured method's
    docs = with_related_by(res.settings, res.lake, docs, similarity.related, similarity.vectors)
    written = res.serving.put_many(docs)
    step.counts(len(docs), written)
    return written
