"""The consumer on the embedded nats-server and a real Iceberg lake in a temporary folder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tunelake import app
from tunelake.config import Settings
from tunelake.events import table as tables
from tunelake.events.broker import open_broker
from tunelake.events.consumer import ConsumerRunning, single_consumer
from tunelake.events.schema import PLAYS, STORED_SCHEMA
from tunelake.events.simulator import Faults
from tunelake.events.table import PositionMoved, read_plays
from tunelake.events.usecases import events_dir
from tunelake.pipeline.resources import lake_of

pytestmark = pytest.mark.services


def _event(n: int, ts: datetime, **changes: object) -> bytes:
    event = {
        "event_id": f"0190a000-0000-7000-8000-{n:012d}",
        "user_id": "user-000001",
        "session_id": "user-000001-0",
        "track_id": f"track{n}",
        "artist_id": f"artist{n % 3}",
        "ts": ts.isoformat(),
        "ms_played": 1000,
        "skipped": False,
        "context": "album",
        "device": "mobile",
        "country": "KR",
    }
    return orjson.dumps(event | changes)


def _publish(settings: Settings, messages: list[bytes]) -> None:
    async def go() -> None:
        broker = await open_broker(
            settings.events_url or "", settings.events_stream, max_age_hours=1
        )
        try:
            await broker.publish(messages)
        finally:
            await broker.close()

    asyncio.run(go())


def _counts(settings: Settings) -> tuple[int, int]:
    got = app.sql(settings, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM plays")
    return got.rows[0][0], got.rows[0][1]


def test_every_valid_event_lands_once_and_a_rerun_adds_nothing(settings: Settings) -> None:
    produced = app.events_produce(settings, count=5_000, seed=7)
    assert produced.duplicates > 0 and produced.malformed > 0 and produced.late > 0
    done = app.events_consume(settings, until_idle=1)
    assert done.rows == produced.valid_unique
    assert (done.duplicates, done.quarantined) == (produced.duplicates, produced.malformed)
    assert done.commits > 1  # micro-batches, not one commit
    assert _counts(settings) == (produced.valid_unique, produced.valid_unique)
    again = app.events_consume(settings, until_idle=0.5)
    assert (again.rows, again.messages) == (0, 0)
    assert _counts(settings) == (produced.valid_unique, produced.valid_unique)


def test_a_duplicate_in_a_later_run_is_dropped_using_what_the_lake_holds(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    _publish(settings, [_event(1, now) + b"\n" + _event(2, now)])
    assert app.events_consume(settings, until_idle=0.5).rows == 2
    _publish(settings, [_event(2, now) + b"\n" + _event(3, now)])  # a restarted consumer
    done = app.events_consume(settings, until_idle=0.5)
    assert (done.rows, done.duplicates) == (1, 1)
    assert _counts(settings) == (3, 3)


def test_a_late_event_lands_in_its_own_day_and_a_malformed_one_in_quarantine(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    three_days_ago = now - timedelta(days=3)
    _publish(
        settings,
        [
            _event(1, now) + b"\n" + _event(2, three_days_ago),
            _event(3, now, ms_played="long") + b"\n" + b"{not json",
        ],
    )
    done = app.events_consume(settings, until_idle=0.5)
    assert (done.rows, done.quarantined) == (2, 2)
    lake = lake_of(settings)
    assert sorted(lake.files(PLAYS)) == [three_days_ago.date(), now.date()]
    late = read_plays(
        lake, three_days_ago - timedelta(minutes=1), three_days_ago + timedelta(minutes=1)
    )
    assert late.column("track_id").to_pylist() == ["track2"]
    assert late.schema == STORED_SCHEMA
    reasons = app.sql(settings, "SELECT reason FROM quarantine_plays ORDER BY reason").rows
    assert reasons[0][0] == "ms_played 'long' is not an integer in [0, 86400000)"
    assert reasons[1][0].startswith("not JSON: unexpected character")


def test_read_plays_pushes_down_its_range_and_columns(settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _publish(settings, [b"\n".join(_event(n, now - timedelta(hours=n)) for n in range(5))])
    app.events_consume(settings, until_idle=0.5)
    lake = lake_of(settings)
    got = read_plays(lake, now - timedelta(hours=2), now, ["track_id", "ts"])
    assert got.column_names == ["track_id", "ts"]
    assert sorted(got.column("track_id").to_pylist()) == ["track1", "track2"]
    assert read_plays(lake).num_rows == 5


def test_a_second_consumer_is_refused_and_a_moved_position_fences_a_writer(
    settings: Settings,
) -> None:
    with (
        single_consumer(events_dir(settings), settings.events_stream),
        pytest.raises(ConsumerRunning, match="already runs"),
    ):
        app.events_consume(settings, until_idle=0.1)
    lake = lake_of(settings)
    ours = tables.StreamTable(lake, PLAYS, settings.events_stream)
    empty = STORED_SCHEMA.empty_table()
    tables.StreamTable(lake, PLAYS, settings.events_stream).commit(empty, 10)  # another one
    with pytest.raises(PositionMoved, match="another consumer"):
        ours.commit(empty, 5)
    assert tables.position(tables.plays_table(lake), settings.events_stream) == 10


def test_a_running_consumer_stops_with_the_error_once_its_position_moved(
    settings: Settings,
) -> None:
    """Fenced while running: the commit fails, and the consumer says so at once, even with no
    message coming after the failed batch."""
    from tunelake.events.consumer import Consumer, Limits

    now = datetime.now(UTC)
    _publish(settings, [_event(1, now)])
    lake = lake_of(settings)

    async def run() -> None:
        broker = await open_broker(
            settings.events_url or "", settings.events_stream, max_age_hours=1
        )
        try:
            consumer = Consumer(lake, broker, Limits(100, 0.1, 1))  # runs until stopped
            running = asyncio.create_task(consumer.run())
            while consumer.stats.commits == 0:
                await asyncio.sleep(0.05)
            other = tables.StreamTable(lake, PLAYS, settings.events_stream)
            other.commit(STORED_SCHEMA.empty_table(), 100)  # another consumer's commit
            await broker.publish([_event(2, now)])
            with pytest.raises(PositionMoved, match="another consumer"):
                await asyncio.wait_for(running, 30)
        finally:
            await broker.close()

    asyncio.run(run())
    assert _counts(settings) == (1, 1)


def test_messages_at_or_below_the_committed_position_are_skipped(settings: Settings) -> None:
    """A crash after the commit: the broker delivers the batch again, the lake holds it."""
    now = datetime.now(UTC)
    _publish(settings, [_event(1, now), _event(2, now)])
    app.events_consume(settings, until_idle=0.5)
    lake = lake_of(settings)
    # Redelivery from the broker's start, as a broker that lost our acknowledgement would.
    from tunelake.events.consumer import Consumer, Limits

    async def replay() -> tuple[int, int, int]:
        broker = await open_broker(
            settings.events_url or "", settings.events_stream, max_age_hours=1
        )
        try:
            consumer = Consumer(lake, broker, Limits(100, 0.2, 1, until_idle=0.3))
            read = await broker.read(0, 10, 1.0)
            batch = [(m.position, m.data) for m in read]
            consumer._commit(consumer._decode(batch), read[-1].position)
            return consumer.stats.skipped_messages, consumer.stats.events, consumer.stats.commits
        finally:
            await broker.close()

    assert asyncio.run(replay()) == (2, 0, 0)  # both skipped, nothing parsed or committed
    assert _counts(settings) == (2, 2)


def test_status_shows_the_backlog_the_lag_and_files_per_day(settings: Settings) -> None:
    app.events_produce(settings, count=500, seed=1, faults=Faults(0, 0, 0))
    app.events_consume(settings, until_idle=0.5)
    app.events_produce(settings, count=200, seed=2, faults=Faults(0, 0, 0))
    status = app.events_status(settings)
    assert status.pending == 200 // settings.events_per_message
    assert status.lag_seconds >= 0 and status.rows == 500
    assert sum(status.files.values()) >= 1 and status.last_commit is not None
    app.events_consume(settings, until_idle=0.5)
    after = app.events_status(settings)
    assert (after.pending, after.lag_seconds, after.rows) == (0, 0.0, 700)


def test_plays_is_a_view_of_tunelake_sql(settings: Settings) -> None:
    app.events_produce(settings, count=100, seed=3, faults=Faults(0, 0, 0))
    app.events_consume(settings, until_idle=0.5)
    got = app.sql(settings, "SELECT COUNT(DISTINCT artist_id) > 1 AS many FROM plays")
    assert got.rows == [(True,)]
