"""The warehouse tables (SQLAlchemy Core) and their Arrow schemas.

The data tables mirror `tunelake.datasets`; `tests/storage/warehouse` checks that they agree,
and that the migrations in `migrations/versions/` build exactly this metadata.

Types are chosen to behave alike on SQLite, MariaDB/MySQL and PostgreSQL:
- ids are VARCHAR(64) (MySQL indexes need a length), compared case-sensitively: base62 ids
  can differ only by case, so MySQL tables use utf8mb4 with the binary collation, which also
  round-trips Korean names and emoji byte for byte;
- floats are DOUBLE (MySQL's plain FLOAT is single precision);
- timestamps are naive UTC, with microseconds (MySQL's DATETIME defaults to whole seconds);
  artists.updated_at is the database's clock when an upsert last wrote the row.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from tunelake.datasets import GENRE_LENGTH, ID_LENGTH, NAME_LENGTH, SHORT_LENGTH

ID = sa.String(ID_LENGTH)
NAME = sa.String(NAME_LENGTH)
SHORT = sa.String(SHORT_LENGTH)
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

#: Every table carries these on MySQL/MariaDB (ignored elsewhere).
MYSQL_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

#: The ingest request states; `pending` is the queue, `review` waits for approval to join it.
INGEST_STATUSES = ("pending", "done", "ambiguous", "not_found", "failed", "review")
#: The states of a request not resolved yet: a query in one of them is not queued again.
OPEN_INGEST_STATUSES = ("pending", "review")

metadata = sa.MetaData()

artists = sa.Table(
    "artists",
    metadata,
    sa.Column("artist_id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("popularity", sa.Integer),
    sa.Column("followers", sa.BigInteger),
    sa.Column("image_url", NAME),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    **MYSQL_OPTIONS,
)

artist_genres = sa.Table(
    "artist_genres",
    metadata,
    sa.Column("artist_id", ID, primary_key=True),
    sa.Column("genre", sa.String(GENRE_LENGTH), primary_key=True),
    sa.Index("ix_artist_genres_genre", "genre"),
    **MYSQL_OPTIONS,
)

tracks = sa.Table(
    "tracks",
    metadata,
    sa.Column("track_id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("artist_id", ID, nullable=False),
    sa.Column("album_id", ID),
    sa.Column("album_name", NAME),
    sa.Column("release_date", SHORT),
    sa.Column("duration_ms", sa.BigInteger),
    sa.Column("explicit", sa.Boolean),
    sa.Column("popularity", sa.Integer),
    sa.Column("isrc", SHORT),
    sa.Column("preview_url", NAME),
    sa.Index("ix_tracks_artist_id", "artist_id"),
    **MYSQL_OPTIONS,
)

top_tracks = sa.Table(
    "top_tracks",
    metadata,
    sa.Column("artist_id", ID, primary_key=True),
    sa.Column("rank", sa.SmallInteger, primary_key=True),
    sa.Column("track_id", ID, nullable=False),
    sa.Column("dt", sa.Date, nullable=False),
    sa.Index("ix_top_tracks_track_id", "track_id"),
    **MYSQL_OPTIONS,
)

audio_features = sa.Table(
    "audio_features",
    metadata,
    sa.Column("track_id", ID, primary_key=True),
    sa.Column("danceability", sa.Double),
    sa.Column("energy", sa.Double),
    sa.Column("key", sa.SmallInteger),
    sa.Column("loudness", sa.Double),
    sa.Column("mode", sa.SmallInteger),
    sa.Column("speechiness", sa.Double),
    sa.Column("acousticness", sa.Double),
    sa.Column("instrumentalness", sa.Double),
    sa.Column("liveness", sa.Double),
    sa.Column("valence", sa.Double),
    sa.Column("tempo", sa.Double),
    sa.Column("time_signature", sa.SmallInteger),
    sa.Column("duration_ms", sa.BigInteger),
    sa.Column("source", SHORT, nullable=False),
    **MYSQL_OPTIONS,
)

related_artists = sa.Table(
    "related_artists",
    metadata,
    sa.Column("artist_id", ID, primary_key=True),
    sa.Column("rank", sa.SmallInteger, primary_key=True),
    sa.Column("related_artist_id", ID, nullable=False),
    sa.Column("distance", sa.Double, nullable=False),
    sa.Column("dt", sa.Date, nullable=False),
    sa.Index("ix_related_artists_related_artist_id", "related_artist_id"),
    **MYSQL_OPTIONS,
)

ingest_requests = sa.Table(
    "ingest_requests",
    metadata,
    sa.Column("request_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("query", NAME, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", SHORT, nullable=False),
    sa.Column("artist_id", ID),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_ingest_requests_status", "status"),
    **MYSQL_OPTIONS,
)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("step", ID, primary_key=True),
    sa.Column("dt", sa.Date),
    sa.Column("status", SHORT, nullable=False),
    sa.Column("started_at", TIMESTAMP),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("duration_s", sa.Double),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_out", sa.BigInteger),
    sa.Column("rows_quarantined", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Column("details", sa.Text),
    sa.Index("ix_pipeline_runs_started_at", "started_at"),
    **MYSQL_OPTIONS,
)

#: Tables written in bulk from Arrow (`upsert`, `replace_children`); the other two have
#: their own methods.
BULK_TABLES: dict[str, sa.Table] = {
    t.name: t for t in (artists, artist_genres, tracks, top_tracks, audio_features, related_artists)
}


def arrow_type(sql_type: sa.types.TypeEngine[Any]) -> pa.DataType:
    """The Arrow type a column's values travel as (subclasses before their bases)."""
    for sql_class, arrow in (
        (sa.SmallInteger, pa.int16()),
        (sa.BigInteger, pa.int64()),
        (sa.Integer, pa.int32()),
        (sa.Float, pa.float64()),
        (sa.Boolean, pa.bool_()),
        (sa.DateTime, pa.timestamp("us", tz="UTC")),
        (sa.Date, pa.date32()),
        (sa.String, pa.string()),
    ):
        if isinstance(sql_type, sql_class):
            return arrow
    raise TypeError(f"no Arrow type for SQL type {sql_type!r}")


def arrow_schema(table: sa.Table) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, arrow_type(c.type), nullable=bool(c.nullable)) for c in table.columns]
    )
