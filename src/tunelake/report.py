"""The run report: one self-contained HTML file that opens offline.

The page is the `report.html` template (shared layout with the dashboard, autoescaped);
here is only what it shows: the run's steps, the sizes of its datasets, its genre and
audio-feature charts (inline SVG, see `tunelake.charts`) and its most popular artists with
their nearest neighbours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from markupsafe import Markup

from tunelake import charts
from tunelake.datasets import ARTISTS, AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS, Dataset
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.observability import RunRecord
from tunelake.render import render

TOP_GENRES = 20
FEATURED_ARTISTS = 5
NEIGHBOURS_SHOWN = 5


def write_report(
    path: Path,
    record: RunRecord,
    *,
    artists: pa.Table | None = None,
    audio_features: pa.Table | None = None,
    top_tracks: pa.Table | None = None,
    related: pa.Table | None = None,
    vectors: pa.Table | None = None,
) -> Path:
    """Write the report of one run to `path` (replaced whole, never half-written). A run
    that failed before it had data gets its steps and errors, with empty data sections."""
    artists = _or_empty(artists, ARTISTS)
    audio_features = _or_empty(audio_features, AUDIO_FEATURES)
    top_tracks = _or_empty(top_tracks, TOP_TRACKS)
    related = _or_empty(related, RELATED_ARTISTS)
    featured = _featured(artists, related)
    html = render(
        "report.html",
        run=record,
        sizes={
            "artists": artists.num_rows,
            "top tracks": top_tracks.num_rows,
            "audio features": audio_features.num_rows,
            "artist vectors": None if vectors is None else vectors.num_rows,
            "related artists": related.num_rows,
        },
        accounted=rows_accounted(record),
        genre_chart=_genre_chart(artists),
        feature_chart=_feature_chart(audio_features),
        featured=_with_neighbours(featured, artists, related),
        with_popularity=_known(featured, "popularity"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
    return path


def rows_accounted(record: RunRecord) -> dict[str, dict[str, int]]:
    """Per dataset, the rows validation received, curated and quarantined (in = curated +
    quarantined), as the run's validate step recorded them; empty before validation."""
    step = next((s for s in record.steps if s.step == "validate"), None)
    if step is None:
        return {}
    return {
        name: {"in": c["in"], "curated": c["out"], "quarantined": c["quarantined"]}
        for name, c in step.details.items()
        if isinstance(c, dict) and {"in", "out", "quarantined"} <= set(c)
    }


def _or_empty(table: pa.Table | None, dataset: Dataset) -> pa.Table:
    return dataset.schema.empty_table() if table is None else table


def genre_counts(artists: pa.Table, top: int = TOP_GENRES) -> list[tuple[str, int]]:
    """The `top` genres by artists, most first, ties by name (the same data, the same chart)."""
    if "genres" not in artists.column_names:
        return []
    genres = pc.drop_null(pc.list_flatten(artists["genres"]))
    if len(genres) == 0:
        return []
    counts = pc.value_counts(genres)
    order = pa.table({"genre": counts.field("values"), "n": counts.field("counts")}).sort_by(
        [("n", "descending"), ("genre", "ascending")]
    )
    return [(r["genre"], r["n"]) for r in order.slice(0, top).to_pylist()]


def genre_chart(counts: list[tuple[str, int]]) -> Markup | None:
    if not counts:
        return None
    names, n = zip(*counts, strict=True)
    return charts.bars(names, n, title=f"Top {len(names)} genres", xlabel="artists")


def _genre_chart(artists: pa.Table) -> Markup | None:
    return genre_chart(genre_counts(artists))


def _feature_chart(audio_features: pa.Table) -> Markup | None:
    features = [f for f in DEFAULT_VECTOR_FEATURES if f in audio_features.column_names]
    if not features or audio_features.num_rows == 0:
        return None
    return charts.histograms(
        {f: pc.drop_null(audio_features[f]).to_numpy(zero_copy_only=False) for f in features}
    )


def _featured(artists: pa.Table, related: pa.Table) -> pa.Table:
    """The most popular artists (by name when no popularity is known), preferring those
    that have neighbours."""
    if related.num_rows:
        with_neighbours = artists.filter(pc.is_in(artists["artist_id"], related["artist_id"]))
        if with_neighbours.num_rows:
            artists = with_neighbours
    keys = [("popularity", "descending")] if _known(artists, "popularity") else []
    return artists.sort_by([*keys, ("name", "ascending")]).slice(0, FEATURED_ARTISTS)


def _with_neighbours(
    featured: pa.Table, artists: pa.Table, related: pa.Table
) -> list[dict[str, Any]]:
    """The featured artists as dicts, each with its first NEIGHBOURS_SHOWN neighbours (name
    joined in) under `neighbours`."""
    names = artists.select(["artist_id", "name"]).rename_columns(["related_artist_id", "name"])
    shown = related.filter(
        pc.and_(
            pc.is_in(related["artist_id"], value_set=featured["artist_id"]),
            pc.less_equal(related["rank"], NEIGHBOURS_SHOWN),
        )
    )
    shown = shown.join(names, "related_artist_id", join_type="left outer").sort_by("rank")
    by_artist: dict[str, list[dict[str, Any]]] = {}
    for row in shown.to_pylist():  # at most FEATURED_ARTISTS * NEIGHBOURS_SHOWN rows
        by_artist.setdefault(row["artist_id"], []).append(row)
    return [
        {**artist, "neighbours": by_artist.get(artist["artist_id"], [])}
        for artist in featured.select(["artist_id", "name", "popularity"]).to_pylist()
    ]


def _known(table: pa.Table, column: str) -> bool:
    """The table has the column with at least one value (the 2026 API has no popularity)."""
    return column in table.column_names and table[column].null_count < table.num_rows
