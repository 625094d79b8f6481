"""Baseline: every table of the data model with its primary key.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)
NAME = sa.String(512)
SHORT = sa.String(32)
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "artists",
        sa.Column("artist_id", ID, primary_key=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("popularity", sa.Integer),
        sa.Column("followers", sa.BigInteger),
        sa.Column("image_url", NAME),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "artist_genres",
        sa.Column("artist_id", ID, primary_key=True),
        sa.Column("genre", sa.String(255), primary_key=True),
        **MYSQL,
    )
    op.create_table(
        "tracks",
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
        **MYSQL,
    )
    op.create_table(
        "top_tracks",
        sa.Column("artist_id", ID, primary_key=True),
        sa.Column("rank", sa.SmallInteger, primary_key=True),
        sa.Column("track_id", ID, nullable=False),
        sa.Column("dt", sa.Date, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "audio_features",
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
        **MYSQL,
    )
    op.create_table(
        "related_artists",
        sa.Column("artist_id", ID, primary_key=True),
        sa.Column("rank", sa.SmallInteger, primary_key=True),
        sa.Column("related_artist_id", ID, nullable=False),
        sa.Column("distance", sa.Double, nullable=False),
        sa.Column("dt", sa.Date, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "ingest_requests",
        sa.Column("request_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("query", NAME, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", SHORT, nullable=False),
        sa.Column("artist_id", ID),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "pipeline_runs",
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
        **MYSQL,
    )


def downgrade() -> None:
    for table in (
        "pipeline_runs",
        "ingest_requests",
        "related_artists",
        "audio_features",
        "top_tracks",
        "tracks",
        "artist_genres",
        "artists",
    ):
        op.drop_table(table)
