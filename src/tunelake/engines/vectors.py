"""Per-artist feature vectors: the mean of the top tracks' audio features, min-max normalised.

An artist gets a vector when each chosen feature has a value on at least one of its top
tracks; the others are left out, and `artists_without_vector` names them so the pipeline can
report them.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tunelake.datasets import AUDIO_FEATURES
from tunelake.datasets import artist_vectors as artist_vectors_dataset
from tunelake.errors import UserError
from tunelake.models import DEFAULT_VECTOR_FEATURES

#: The audio-feature columns a vector may use: the numeric ones.
VECTOR_FEATURES: tuple[str, ...] = tuple(
    field.name
    for field in AUDIO_FEATURES.schema
    if pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
)


def artist_vectors(
    top_tracks: pa.Table,
    audio_features: pa.Table,
    features: Sequence[str] = DEFAULT_VECTOR_FEATURES,
) -> pa.Table:
    """One row per artist, schema `tunelake.datasets.artist_vectors(features)`, sorted by id.

    The feature columns hold the mean over the artist's top tracks (null and NaN values and
    tracks without audio features do not count; `n_tracks` counts the tracks that do);
    `vector` holds those means min-max normalised over all artists of the table, a feature
    with max == min becoming 0.
    """
    features = _check_features(top_tracks, audio_features, features)
    schema = artist_vectors_dataset(features).schema
    means = _feature_means(top_tracks, audio_features, features)
    matrix = np.column_stack(
        [means.column(f"{f}_mean").to_numpy(zero_copy_only=False) for f in features]
    ).reshape(len(means), len(features))
    complete = ~np.isnan(matrix).any(axis=1)
    matrix = matrix[complete]
    means = means.filter(pa.array(complete))
    normalised = _min_max(matrix)
    width = len(features)
    offsets = pa.array(np.arange(0, normalised.size + 1, width, dtype=np.int32))
    return pa.Table.from_arrays(
        [
            means.column("artist_id"),
            pc.cast(means.column("track_id_count"), pa.int32()),
            *(pa.array(matrix[:, j]) for j in range(width)),
            pa.ListArray.from_arrays(offsets, pa.array(normalised.ravel())),
        ],
        schema=schema,
    )


def artists_without_vector(
    artist_ids: pa.Array | pa.ChunkedArray | Sequence[str], vectors: pa.Table
) -> pa.Array:
    """The distinct ids among `artist_ids` that have no row in `vectors`, sorted."""
    if isinstance(artist_ids, pa.ChunkedArray):
        artist_ids = artist_ids.combine_chunks()
    elif not isinstance(artist_ids, pa.Array):
        artist_ids = pa.array(artist_ids, pa.string())
    wanted = pc.unique(artist_ids)
    missing = wanted.filter(pc.invert(pc.is_in(wanted, vectors.column("artist_id"))))
    return missing.take(pc.sort_indices(missing))


@dataclass(frozen=True)
class VectorLoss:
    """Artists with top tracks that got no vector, and why."""

    artists: int
    """Artists with at least one top track."""
    without_vector: int
    lacking: dict[str, int]
    """Per chosen feature, how many of those artists have no value of it on their tracks."""
    features: tuple[str, ...]

    def reason(self) -> str:
        """Why, in words: the features that lack values, most lacked first."""
        by_count = sorted(self.lacking.items(), key=lambda item: (-item[1], item[0]))
        named = ", ".join(f"{f} ({n} artist{'' if n == 1 else 's'})" for f, n in by_count)
        return (
            f"their top tracks have no value of {named}; the vector features are chosen by "
            f"the setting vector_features (TUNELAKE_VECTOR_FEATURES, now {','.join(self.features)})"
        )

    def summary(self) -> str:
        return f"{self.without_vector} of {self.artists} artists have no vector: {self.reason()}"


class NoVectors(UserError):
    """No artist with top tracks got a vector: the similarity would be empty."""


def vector_loss(
    top_tracks: pa.Table, audio_features: pa.Table, vectors: pa.Table, features: Sequence[str]
) -> VectorLoss:
    """Which artists with top tracks have no row in `vectors`, and which of the chosen
    features their tracks lack (null or NaN on every track, or no audio features at all)."""
    chosen = tuple(features)
    missing = artists_without_vector(top_tracks.column("artist_id"), vectors)
    total = len(pc.unique(top_tracks.column("artist_id")))
    lacking: dict[str, int] = {}
    if len(missing):
        tracks = top_tracks.filter(pc.is_in(top_tracks.column("artist_id"), value_set=missing))
        columns = [f for f in chosen if f in audio_features.column_names]
        joined = tracks.select(["artist_id", "track_id"]).join(
            audio_features.select(["track_id", *columns]), "track_id", join_type="left outer"
        )
        for f in chosen:
            if f not in columns:
                lacking[f] = len(missing)
                continue
            values = pc.cast(joined.column(f), pa.float64())
            usable = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(pc.is_nan(values), True)))
            having = pc.unique(joined.column("artist_id").filter(pc.fill_null(usable, False)))
            absent = len(missing) - pc.sum(pc.is_in(missing, value_set=having)).as_py()
            if absent:
                lacking[f] = absent
    return VectorLoss(total, len(missing), lacking, chosen)


def check_vectors(
    top_tracks: pa.Table, audio_features: pa.Table, vectors: pa.Table, features: Sequence[str]
) -> VectorLoss:
    """The loss of `vector_loss`; NoVectors when every artist with top tracks lost its
    vector (a similarity of nothing is a failure, not an empty success)."""
    loss = vector_loss(top_tracks, audio_features, vectors, features)
    if loss.artists and loss.without_vector == loss.artists:
        raise NoVectors(f"no artist got a vector ({loss.artists} have top tracks): {loss.reason()}")
    return loss


def vector_matrix(vectors: pa.Table) -> np.ndarray:
    """The `vector` column of an `artist_vectors` table as an N x D float64 array."""
    column = vectors.column("vector").combine_chunks()
    if column.null_count:
        raise ValueError(f"artist_vectors has {column.null_count} null vectors")
    if len(column) == 0:
        return np.zeros((0, 0), np.float64)
    lengths = pc.unique(pc.list_value_length(column)).to_pylist()
    if len(lengths) != 1:
        raise ValueError(f"artist_vectors has vectors of different lengths: {sorted(lengths)}")
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float64, copy=False).reshape(len(column), lengths[0])


def _check_features(
    top_tracks: pa.Table, audio_features: pa.Table, features: Sequence[str]
) -> tuple[str, ...]:
    if isinstance(features, str):
        raise ValueError(f"features must be a sequence of names, got the string {features!r}")
    chosen = tuple(features)
    if not chosen:
        raise ValueError("features must name at least one audio feature")
    unknown = [f for f in chosen if f not in VECTOR_FEATURES]
    if unknown:
        raise ValueError(f"unknown audio features {unknown}; choose among {list(VECTOR_FEATURES)}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"features are repeated: {list(chosen)}")
    _require_columns("top_tracks", top_tracks, ("artist_id", "track_id"))
    _require_columns("audio_features", audio_features, ("track_id", *chosen))
    track_ids = audio_features.column("track_id")
    if pc.count_distinct(track_ids).as_py() != len(track_ids):
        raise ValueError("audio_features has repeated track_id values; one row per track")
    return chosen


def _require_columns(name: str, table: pa.Table, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{name} table lacks columns {missing}; it has {table.column_names}")


def _feature_means(
    top_tracks: pa.Table, audio_features: pa.Table, features: tuple[str, ...]
) -> pa.Table:
    """artist_id, track_id_count and `<feature>_mean` per artist, sorted by artist id."""
    values = {}
    for f in features:
        column = pc.cast(audio_features.column(f), pa.float64())
        values[f] = pc.if_else(pc.is_nan(column), None, column)
    has_value = functools.reduce(operator.or_, (pc.is_valid(v).to_numpy() for v in values.values()))
    featured = pa.table({"track_id": audio_features.column("track_id"), **values}).filter(
        pa.array(has_value)
    )
    joined = top_tracks.select(["artist_id", "track_id"]).join(
        featured, "track_id", join_type="inner"
    )
    joined = joined.take(pc.sort_indices(joined.column("artist_id")))
    artist = joined.column("artist_id").combine_chunks()
    starts = (
        np.flatnonzero(
            np.r_[True, pc.not_equal(artist[1:], artist[:-1]).to_numpy(zero_copy_only=False)]
        )
        if len(artist)
        else np.zeros(0, np.int64)
    )
    sizes = np.diff(np.r_[starts, len(artist)])
    group = np.repeat(np.arange(len(starts)), sizes)
    slot = np.arange(len(artist)) - np.repeat(starts, sizes)
    columns = {
        "artist_id": artist.take(pa.array(starts)),
        "track_id_count": pa.array(sizes, pa.int64()),
    }
    for f in features:
        column = joined.column(f).to_numpy(zero_copy_only=False).astype(np.float64)
        columns[f"{f}_mean"] = pa.array(
            _sorted_means(column, group, slot, len(starts), int(sizes.max(initial=0))),
        )
    return pa.table(columns)


def _sorted_means(
    values: np.ndarray, group: np.ndarray, slot: np.ndarray, n_groups: int, width: int
) -> np.ndarray:
    """Each group's mean of its non-NaN values (NaN when it has none).

    The sum adds the values in ascending order, one at a time: a float sum depends on its
    order, and this one is fixed by the values alone, so the Spark engine, whose rows come
    in any order, sums the same way (`tunelake.engines.spark`) and gets the same bits.
    """
    padded = np.full((n_groups, width), np.nan)
    padded[group, slot] = values
    padded.sort(axis=1)  # NaN last
    count = (~np.isnan(padded)).sum(axis=1)
    padded[np.isnan(padded)] = 0.0  # adding 0.0 leaves a sum unchanged
    total = np.zeros(n_groups)
    for j in range(width):
        total += padded[:, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _min_max(matrix: np.ndarray) -> np.ndarray:
    if len(matrix) == 0:
        return matrix
    low = matrix.min(axis=0)
    span = matrix.max(axis=0) - low
    flat = span == 0
    # A feature every artist shares says nothing about similarity: 0 for all, not 0/0.
    return np.where(flat, 0.0, (matrix - low) / np.where(flat, 1.0, span))
