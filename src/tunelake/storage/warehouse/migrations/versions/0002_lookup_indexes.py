"""Indexes for the lookups the pipeline and the service make: an artist's tracks, artists by
genre, who lists a track or an artist, the pending ingest queue, recent runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_artist_genres_genre", "artist_genres", "genre"),
    ("ix_tracks_artist_id", "tracks", "artist_id"),
    ("ix_top_tracks_track_id", "top_tracks", "track_id"),
    ("ix_related_artists_related_artist_id", "related_artists", "related_artist_id"),
    ("ix_ingest_requests_status", "ingest_requests", "status"),
    ("ix_pipeline_runs_started_at", "pipeline_runs", "started_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
