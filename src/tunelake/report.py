"""The run report: one self-contained HTML file that opens offline.

Plots are inline SVG drawn by matplotlib's object-oriented API (a `Figure` with no pyplot,
so no GUI backend and no global state), styles are inline, nothing is fetched. Every string
that comes from data (artist and genre names, errors, URLs) is HTML-escaped.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.figure import Figure

from tunelake.datasets import ARTISTS, AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS, Dataset
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.observability import RunRecord
from tunelake.redact import mask_url

TOP_GENRES = 20
FEATURED_ARTISTS = 5
NEIGHBOURS_SHOWN = 5
HISTOGRAM_BINS = 20

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: .2rem; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-ok, .status-success, .status-succeeded { color: #1a7f37; font-weight: bold; }
.status-failed, .status-error { color: #cf222e; font-weight: bold; }
.error { color: #cf222e; white-space: pre-wrap; }
.empty { color: #777; font-style: italic; }
svg { max-width: 100%; height: auto; }
"""


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
    run = record.model_dump(mode="json")
    artists = _or_empty(artists, ARTISTS)
    audio_features = _or_empty(audio_features, AUDIO_FEATURES)
    top_tracks = _or_empty(top_tracks, TOP_TRACKS)
    related = _or_empty(related, RELATED_ARTISTS)
    run_id = _text(run.get("run_id"))
    title = " · ".join(
        escape(_text(v)) for v in (f"tunelake run {run_id}", run.get("dt"), run.get("status"))
    )
    body = "\n".join(
        [
            f"<h1>tunelake run {escape(run_id)}</h1>",
            _meta(run),
            "<h2>Steps</h2>",
            _steps(run.get("steps") or []),
            "<h2>Data</h2>",
            _sizes(artists, audio_features, top_tracks, related, vectors),
            "<h2>Genres</h2>",
            _genre_plot(artists),
            "<h2>Audio features</h2>",
            _feature_plot(audio_features),
            "<h2>Neighbours</h2>",
            _neighbours(artists, related),
            "<h2>Outputs</h2>",
            _outputs(run.get("outputs") or {}),
        ]
    )
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
    return path


def _or_empty(table: pa.Table | None, dataset: Dataset) -> pa.Table:
    return dataset.schema.empty_table() if table is None else table


# Sections --------------------------------------------------------------------------------


def _meta(run: Mapping[str, Any]) -> str:
    status = _text(run.get("status"))
    parts = [
        f"dt <b>{escape(_text(run.get('dt')))}</b>",
        f'status <span class="{_status_class(status)}">{escape(status)}</span>',
        f"started {escape(_text(run.get('started_at')))}",
        f"finished {escape(_text(run.get('finished_at')))}",
    ]
    meta = f'<p class="meta">{" · ".join(parts)}</p>'
    error = run.get("error")
    return f'{meta}\n<p class="error">{escape(_text(error))}</p>' if error else meta


def _steps(steps: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [
            escape(_text(s.get("step"))),
            f'<span class="{_status_class(_text(s.get("status")))}">'
            f"{escape(_text(s.get('status')))}</span>",
            _number(s.get("rows_in")),
            _number(s.get("rows_out")),
            _number(s.get("rows_quarantined")),
            _number(s.get("duration_s"), "{:.2f} s"),
            f'<span class="error">{escape(_text(s["error"]))}</span>' if s.get("error") else "",
        ]
        for s in steps
    ]
    headers = ["step", "status", "rows in", "rows out", "quarantined", "duration", "error"]
    return _table(headers, rows) if rows else _empty("No steps recorded.")


def _sizes(
    artists: pa.Table,
    audio_features: pa.Table,
    top_tracks: pa.Table,
    related: pa.Table,
    vectors: pa.Table | None,
) -> str:
    sizes = {
        "artists": artists.num_rows,
        "top tracks": top_tracks.num_rows,
        "audio features": audio_features.num_rows,
        "artist vectors": None if vectors is None else vectors.num_rows,
        "related artists": related.num_rows,
    }
    rows = [
        [escape(name), "not computed" if n is None else _number(n)] for name, n in sizes.items()
    ]
    return _table(["dataset", "rows"], rows)


def _genre_plot(artists: pa.Table) -> str:
    if "genres" not in artists.column_names:
        return _empty("No genres in this run.")
    genres = pc.drop_null(pc.list_flatten(artists["genres"]))
    if len(genres) == 0:
        return _empty("No genres in this run.")
    counts = pc.value_counts(genres)
    # most artists first, ties by name so the same data draws the same plot
    order = pa.table({"genre": counts.field("values"), "n": counts.field("counts")}).sort_by(
        [("n", "descending"), ("genre", "ascending")]
    )
    top = order.slice(0, TOP_GENRES)
    names, n = top["genre"].to_pylist(), top["n"].to_numpy()
    fig = Figure(figsize=(8, 0.3 * len(names) + 1), layout="constrained")
    ax = fig.subplots()
    ax.barh(np.arange(len(names)), n, color="#4c72b0")
    # genre names are data: never parse them as mathtext
    ax.set_yticks(np.arange(len(names)), names, parse_math=False)
    ax.invert_yaxis()
    ax.set_xlabel("artists")
    ax.set_title(f"Top {len(names)} genres")
    return _svg(fig)


def _feature_plot(audio_features: pa.Table) -> str:
    features = [f for f in DEFAULT_VECTOR_FEATURES if f in audio_features.column_names]
    if not features or audio_features.num_rows == 0:
        return _empty("No audio features in this run.")
    columns = 4
    grid_rows = -(-len(features) // columns)
    # fixed spacing: a layout engine would draw the grid twice, doubling the cost
    fig = Figure(figsize=(10, 2.2 * grid_rows))
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.5)
    axes = fig.subplots(grid_rows, columns, squeeze=False).ravel()
    for ax, feature in zip(axes, features, strict=False):
        values = pc.drop_null(audio_features[feature]).to_numpy()
        values = values[np.isfinite(values)]
        if len(values):
            # one filled outline per histogram: far cheaper to draw than a patch per bin
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
            ax.stairs(counts, edges, fill=True, color="#55a868")
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(feature, fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes[len(features) :]:
        ax.set_visible(False)
    return _svg(fig)


def _neighbours(artists: pa.Table, related: pa.Table) -> str:
    featured = _featured(artists, related)
    if featured.num_rows == 0:
        return _empty("No artists in this run.")
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
    with_popularity = _known(featured, "popularity")
    headers = [
        "artist",
        *(["popularity"] if with_popularity else []),
        "rank",
        "neighbour",
        "distance",
    ]
    rows: list[list[str]] = []
    for artist in featured.to_pylist():
        lead = [escape(_text(artist["name"]))]
        if with_popularity:
            lead.append(_number(artist["popularity"]))
        neighbours: list[dict[str, Any] | None] = [*by_artist.get(artist["artist_id"], [])]
        for i, neighbour in enumerate(neighbours or [None]):
            rows.append([*(lead if i == 0 else [""] * len(lead)), *_neighbour_cells(neighbour)])
    return _table(headers, rows)


def _featured(artists: pa.Table, related: pa.Table) -> pa.Table:
    """The most popular artists (by name when no popularity is known), preferring those
    that have neighbours."""
    if related.num_rows:
        with_neighbours = artists.filter(pc.is_in(artists["artist_id"], related["artist_id"]))
        if with_neighbours.num_rows:
            artists = with_neighbours
    keys = [("popularity", "descending")] if _known(artists, "popularity") else []
    return artists.sort_by([*keys, ("name", "ascending")]).slice(0, FEATURED_ARTISTS)


def _known(table: pa.Table, column: str) -> bool:
    """The table has the column with at least one value (the 2026 API has no popularity)."""
    return column in table.column_names and table[column].null_count < table.num_rows


def _neighbour_cells(neighbour: Mapping[str, Any] | None) -> list[str]:
    if neighbour is None:
        return ["", '<span class="empty">no neighbours</span>', ""]
    name = neighbour["name"] or neighbour["related_artist_id"]
    return [
        _number(neighbour["rank"]),
        escape(_text(name)),
        _number(neighbour["distance"], "{:.4f}"),
    ]


def _outputs(outputs: Mapping[str, Any]) -> str:
    rows = [
        [escape(_text(name)), f"<code>{escape(mask_url(_text(url)))}</code>"]
        for name, url in outputs.items()
    ]
    return _table(["output", "location"], rows) if rows else _empty("No outputs recorded.")


# Helpers ---------------------------------------------------------------------------------


def _svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (text kept as text: smaller and searchable)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None})
    document = buffer.getvalue()
    return document[document.index("<svg") :]  # drop the XML prolog and DOCTYPE


class _Num(str):
    """A table cell holding a number, so it is right-aligned."""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of cells that are already HTML (escaped by the caller)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if isinstance(c, _Num) else f"<td>{c}</td>" for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _number(value: Any, template: str = "{:,}") -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        return _Num(escape(template.format(value)))
    return escape(str(value))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


def _status_class(status: str) -> str:
    return "status-" + "".join(c for c in status.lower() if c.isalnum())
