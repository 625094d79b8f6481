"""The events use cases (re-exported by tunelake.app): produce, consume, compact, status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from tunelake.config import Settings
from tunelake.errors import InputError
from tunelake.events.broker import Broker, open_broker
from tunelake.events.compact import Compacted, closed_days, compact_day
from tunelake.events.consumer import Consumed, Consumer, Limits, single_consumer
from tunelake.events.simulator import Faults, Produced, Simulator
from tunelake.events.status import EventsStatus, status_of
from tunelake.events.table import plays_table
from tunelake.localservices.nats import ensure_nats, stop_nats
from tunelake.pipeline.resources import lake_of, reading_lake

T = TypeVar("T")

DEFAULT_RATE = 1000.0
"""Simulated events per second when produce is not paced (--rate unset)."""
CLOSED_GRACE = timedelta(hours=1)
"""A day is compacted once it ended this long ago (late events mostly arrived)."""


def events_dir(settings: Settings) -> Path:
    return settings.home / "events"


def broker_url(settings: Settings) -> str:
    """TUNELAKE_EVENTS_URL, or the embedded nats-server's (started if it is not running)."""
    if settings.events_url:
        return settings.events_url
    return ensure_nats(events_dir(settings) / "nats").endpoint_url


def _with_broker(settings: Settings, work: Callable[[Broker], Awaitable[T]]) -> T:
    async def run() -> T:
        broker = await open_broker(
            broker_url(settings),
            settings.events_stream,
            max_age_hours=settings.events_retention_hours,
        )
        try:
            return await work(broker)
        finally:
            await broker.close()

    return asyncio.run(run())


def produce(
    settings: Settings,
    *,
    count: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    users: int = 1000,
    seed: int = 0,
    faults: Faults | None = None,
) -> Produced:
    """Simulated plays published to the stream: `count` events, or `duration` seconds of them
    at `rate` a second (paced in real time; unpaced: as fast as the broker takes them, with
    event times spread at DEFAULT_RATE a second up to now)."""
    if (count is None) == (duration is None):
        raise InputError("give either --count N or --duration SECONDS")
    if (count is not None and count < 1) or (duration is not None and duration <= 0):
        raise InputError("--count and --duration must be positive")
    if (rate is not None and rate <= 0) or users < 1:
        raise InputError("--rate and --users must be positive")
    now = datetime.now(UTC)
    paced = rate is not None or duration is not None
    per_second = rate or DEFAULT_RATE
    total = count if count is not None else int((duration or 0) * per_second)
    start = now if paced else now - timedelta(seconds=total / per_second)
    simulator = Simulator(
        seed=seed,
        start=start,
        rate=per_second,
        users=users,
        catalog_seed=settings.catalog_seed,
        catalog_artists=settings.catalog_artists,
        faults=faults or Faults(),
    )
    produced = Produced()
    size = settings.events_per_message

    async def publish(broker: Broker) -> Produced:
        began = time.monotonic()
        for lines in simulator.lines(total, produced):
            if paced:
                ahead = (produced.events - len(lines)) / per_second - (time.monotonic() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await broker.publish(
                [b"\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]
            )
        return produced

    return _with_broker(settings, publish)


def consume(
    settings: Settings,
    *,
    until_idle: float | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> Consumed:
    """Stream → `plays` until stopped (SIGINT/SIGTERM), or until no message came for
    until_idle seconds. on_ready(position) is called once it reads (resuming after position)."""
    if until_idle is not None and until_idle < 0:
        raise InputError("--until-idle must be 0 seconds or more")
    lake = lake_of(settings)
    limits = Limits(
        batch_events=settings.events_batch_events,
        batch_seconds=settings.events_batch_seconds,
        dedup_days=settings.events_dedup_days,
        until_idle=until_idle,
    )
    with single_consumer(events_dir(settings), settings.events_stream):
        return _with_broker(settings, lambda broker: Consumer(lake, broker, limits, on_ready).run())


def compact(settings: Settings, *, day: date | None = None) -> list[Compacted]:
    """Compact one day of `plays`, or every closed day with several files; then expire old
    snapshots as for every lake table."""
    lake = lake_of(settings)
    plays_table(lake)
    days = [day] if day is not None else closed_days(lake, datetime.now(UTC), CLOSED_GRACE)
    done = [compact_day(lake, d) for d in days]
    lake.vacuum(timedelta(days=settings.lake_snapshot_retention_days))
    return done


def stream_status(settings: Settings) -> EventsStatus:
    """The stream, the consumer's backlog and lag, the last commit, files per day."""
    lake = reading_lake(settings)
    return _with_broker(settings, lambda broker: status_of(lake, broker))


def stop_embedded_broker(settings: Settings) -> bool:
    """Stop the embedded nats-server of the data directory; False if none ran."""
    return stop_nats(events_dir(settings) / "nats")
