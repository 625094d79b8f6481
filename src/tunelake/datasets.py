"""The datasets: their Arrow schemas and keys, shared by the lake, the warehouse and validation.

Records move between pipeline steps as `pyarrow.Table`s with these schemas. The warehouse
tables (see `tunelake.storage.warehouse.schema`) mirror them; the lake writes them as
Iceberg tables partitioned by `dt` (one table per dataset, rejects in `quarantine_<dataset>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from tunelake.models import DEFAULT_VECTOR_FEATURES


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    """Columns that identify a row within one partition."""


ARTISTS = Dataset(
    "artists",
    pa.schema(
        [
            pa.field("artist_id", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("genres", pa.list_(pa.string())),
            pa.field("popularity", pa.int32()),
            pa.field("followers", pa.int64()),
            pa.field("image_url", pa.string()),
        ]
    ),
    ("artist_id",),
)

TRACKS = Dataset(
    "tracks",
    pa.schema(
        [
            pa.field("track_id", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("artist_id", pa.string(), nullable=False),
            pa.field("album_id", pa.string()),
            pa.field("album_name", pa.string()),
            pa.field("release_date", pa.string()),
            pa.field("duration_ms", pa.int64()),
            pa.field("explicit", pa.bool_()),
            pa.field("popularity", pa.int32()),
            pa.field("isrc", pa.string()),
            pa.field("preview_url", pa.string()),
        ]
    ),
    ("track_id",),
)

TOP_TRACKS = Dataset(
    "top_tracks",
    pa.schema(
        [
            pa.field("artist_id", pa.string(), nullable=False),
            pa.field("track_id", pa.string(), nullable=False),
            pa.field("rank", pa.int16(), nullable=False),
        ]
    ),
    ("artist_id", "rank"),
)

AUDIO_FEATURES = Dataset(
    "audio_features",
    pa.schema(
        [
            pa.field("track_id", pa.string(), nullable=False),
            pa.field("danceability", pa.float64()),
            pa.field("energy", pa.float64()),
            pa.field("key", pa.int16()),
            pa.field("loudness", pa.float64()),
            pa.field("mode", pa.int16()),
            pa.field("speechiness", pa.float64()),
            pa.field("acousticness", pa.float64()),
            pa.field("instrumentalness", pa.float64()),
            pa.field("liveness", pa.float64()),
            pa.field("valence", pa.float64()),
            pa.field("tempo", pa.float64()),
            pa.field("time_signature", pa.int16()),
            pa.field("duration_ms", pa.int64()),
            pa.field("source", pa.string(), nullable=False),
        ]
    ),
    ("track_id",),
)

RELATED_ARTISTS = Dataset(
    "related_artists",
    pa.schema(
        [
            pa.field("artist_id", pa.string(), nullable=False),
            pa.field("related_artist_id", pa.string(), nullable=False),
            pa.field("rank", pa.int16(), nullable=False),
            pa.field("distance", pa.float64(), nullable=False),
        ]
    ),
    ("artist_id", "rank"),
)


def artist_vectors(features: Sequence[str] = DEFAULT_VECTOR_FEATURES) -> Dataset:
    """Per-artist means of the chosen features, and the min-max normalised vector."""
    fields = [
        pa.field("artist_id", pa.string(), nullable=False),
        pa.field("n_tracks", pa.int32(), nullable=False),
    ]
    fields += [pa.field(f, pa.float64()) for f in features]
    fields.append(pa.field("vector", pa.list_(pa.float64()), nullable=False))
    return Dataset("artist_vectors", pa.schema(fields), ("artist_id",))


ARTIST_VECTORS = artist_vectors()

#: The longest text the stores keep, in characters, by kind of column (the warehouse's
#: column sizes are these; validation quarantines a longer value with its reason).
ID_LENGTH = 64
NAME_LENGTH = 512
SHORT_LENGTH = 32
GENRE_LENGTH = 255

#: dataset -> text column -> its longest value (for a list column, of each item).
MAX_LENGTHS: dict[str, dict[str, int]] = {
    "artists": {
        "artist_id": ID_LENGTH,
        "name": NAME_LENGTH,
        "genres": GENRE_LENGTH,
        "image_url": NAME_LENGTH,
    },
    "tracks": {
        "track_id": ID_LENGTH,
        "name": NAME_LENGTH,
        "artist_id": ID_LENGTH,
        "album_id": ID_LENGTH,
        "album_name": NAME_LENGTH,
        "release_date": SHORT_LENGTH,
        "isrc": SHORT_LENGTH,
        "preview_url": NAME_LENGTH,
    },
    "top_tracks": {"artist_id": ID_LENGTH, "track_id": ID_LENGTH},
    "audio_features": {"track_id": ID_LENGTH, "source": SHORT_LENGTH},
    "related_artists": {"artist_id": ID_LENGTH, "related_artist_id": ID_LENGTH},
}

#: The curated datasets the lake holds, by name.
CURATED: dict[str, Dataset] = {
    d.name: d
    for d in (ARTISTS, TRACKS, TOP_TRACKS, AUDIO_FEATURES, ARTIST_VECTORS, RELATED_ARTISTS)
}
