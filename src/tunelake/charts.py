"""Charts as inline SVG, drawn on the server by matplotlib: the report and the dashboard
embed them, so both open offline with no JavaScript.

Each chart is a `Figure` built with the object-oriented API (no pyplot: no GUI backend, no
global state). Text is kept as SVG text, escaped by matplotlib; labels that come from data
are never parsed as mathtext.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HISTOGRAM_BINS = 20
BAR = "#4c72b0"
SECOND = "#dd8452"


def _figure(**options: Any) -> Figure:
    # matplotlib (~40 MB) is imported when a chart is drawn, not by every command that
    # imports the report: `tunelake events consume` draws nothing.
    from matplotlib.figure import Figure

    return Figure(**options)


def svg(fig: Figure) -> Markup:
    """The figure as an inline <svg> element (text kept as text: smaller and searchable)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None})
    document = buffer.getvalue()
    return Markup(document[document.index("<svg") :])  # drop the XML prolog and DOCTYPE


def bars(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> Markup:
    """Horizontal bars, the first label on top."""
    fig = _figure(figsize=(8, 0.3 * len(labels) + 1), layout="constrained")
    ax = fig.subplots()
    ax.barh(np.arange(len(labels)), values, color=BAR)
    ax.set_yticks(np.arange(len(labels)), labels, parse_math=False)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, parse_math=False)
    return svg(fig)


def timeline(
    starts: Sequence[datetime], values: Sequence[float], *, title: str, ylabel: str
) -> Markup:
    """Bars over time, one per period (an hour: labelled HH:MM in UTC), in order."""
    fig = _figure(figsize=(9, 2.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(starts))
    ax.bar(x, values, color=BAR)
    step = max(1, len(starts) // 12)  # at most about a dozen labels
    ax.set_xticks(x[::step], [s.strftime("%H:%M") for s in starts[::step]], parse_math=False)
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, parse_math=False)
    return svg(fig)


def histograms(columns: Mapping[str, np.ndarray], *, per_row: int = 4) -> Markup:
    """One small histogram per column (NaN and infinities left out)."""
    grid_rows = -(-len(columns) // per_row)
    # fixed spacing: a layout engine would draw the grid twice, doubling the cost
    fig = _figure(figsize=(10, 2.2 * grid_rows))
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.5)
    axes = fig.subplots(grid_rows, per_row, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, columns.items(), strict=False):
        values = values[np.isfinite(values)]
        if len(values):
            # one filled outline per histogram: far cheaper to draw than a patch per bin
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
            ax.stairs(counts, edges, fill=True, color="#55a868")
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    return svg(fig)


def profile(
    features: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str
) -> Markup:
    """Grouped bars: one group per feature, one bar per series (an artist, its neighbours'
    mean); a missing value draws no bar."""
    fig = _figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(features))
    width = 0.8 / max(len(series), 1)
    for i, ((label, values), colour) in enumerate(zip(series.items(), (BAR, SECOND), strict=False)):
        heights = np.array([np.nan if v is None else v for v in values], dtype=float)
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=label, color=colour)
    ax.set_xticks(x, features, rotation=20, parse_math=False)
    ax.set_title(title, parse_math=False)
    ax.legend(fontsize=8)
    return svg(fig)
