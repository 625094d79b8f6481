"""The `plays` contract shared by the producer, the consumer and the readers (listening,
recommend): the curated columns of a play, the tables that hold them, and the ingestion
columns the consumer adds after them.

An event on the wire is one JSON object with the curated fields (`ts` as ISO 8601 with an
offset); the consumer validates it into a row of PLAY_SCHEMA, or quarantines its raw text
with a reason.
"""

from __future__ import annotations

import pyarrow as pa

PLAYS = "plays"
"""The Iceberg table `<namespace>.plays`, partitioned by day(ts)."""
QUARANTINE_PLAYS = "quarantine_plays"
"""Rejected events: `payload` (the raw message as text), `reason`, `received_at`."""

CONTEXTS = ("album", "playlist", "search", "radio", "chat")
"""Where a play started; `chat` is a chatbot recommendation."""
DEVICES = ("mobile", "desktop", "web", "speaker", "tv", "car")

PLAY_FIELDS: tuple[pa.Field, ...] = (
    pa.field("event_id", pa.string(), nullable=False),  # UUIDv7 text, unique
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("track_id", pa.string(), nullable=False),
    pa.field("artist_id", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # event time
    pa.field("ms_played", pa.int32(), nullable=False),
    pa.field("skipped", pa.bool_(), nullable=False),
    pa.field("context", pa.string(), nullable=False),  # one of CONTEXTS
    pa.field("device", pa.string(), nullable=False),
    pa.field("country", pa.string(), nullable=False),  # ISO 3166-1 alpha-2
)
PLAY_SCHEMA = pa.schema(PLAY_FIELDS)
"""A curated play, as producers send it and readers get it."""

RECEIVED_AT = pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False)
"""When the consumer took the event from the broker (ingestion time: freshness and lag)."""
STORED_SCHEMA = pa.schema([*PLAY_FIELDS, RECEIVED_AT])
"""The columns of the table `plays`: the curated ones, then the ingestion ones."""

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("payload", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        RECEIVED_AT,
    ]
)
