"""Where the stream and the consumer stand: what `tunelake events status` prints and what the
Dagster lag/freshness sensor reads (`stream_status(settings)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from tunelake.events import table as tables
from tunelake.events.broker import Broker, StreamInfo
from tunelake.events.schema import PLAYS
from tunelake.storage.lake import IcebergLake


@dataclass(frozen=True)
class EventsStatus:
    stream: StreamInfo
    position: int
    """The position of the last message `plays` holds."""
    pending: int
    """Messages in the stream after it: the consumer's backlog."""
    lag_seconds: float
    """Age of the oldest message not committed yet (0: none pending)."""
    last_commit: datetime | None
    rows: int
    files: dict[date, int]
    """Data files of `plays` per event-time day."""


async def status_of(lake: IcebergLake, broker: Broker, now: datetime | None = None) -> EventsStatus:
    now = now or datetime.now(UTC)
    table = lake.load(PLAYS)
    position = tables.position(table, broker.stream) if table is not None else 0
    snapshot = table.current_snapshot() if table is not None else None
    summary = snapshot.summary if snapshot is not None and snapshot.summary else None
    pending = await broker.pending(position)
    oldest = await broker.published_at(position + 1) if pending else None
    return EventsStatus(
        stream=await broker.info(),
        position=position,
        pending=pending,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        last_commit=(
            datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC) if snapshot else None
        ),
        rows=int(summary.get("total-records", 0)) if summary else 0,
        files={day: len(paths) for day, paths in lake.files(PLAYS).items()} if table else {},
    )
