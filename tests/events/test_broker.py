"""One contract for every broker adapter: NATS JetStream (embedded and the machine's) and
Redis Streams."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tunelake.errors import ConfigError
from tunelake.events.broker import Broker, BrokerUnavailable, open_broker

pytestmark = pytest.mark.services


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _opened(url: str, stream: str) -> Broker:
    return await open_broker(url, stream, max_age_hours=1)


def test_messages_come_back_in_order_with_growing_positions(broker_url: str, stream: str) -> None:
    async def go() -> None:
        broker = await _opened(broker_url, stream)
        try:
            before = datetime.now(UTC) - timedelta(seconds=1)
            await broker.publish([f"m{i}".encode() for i in range(250)])
            got = []
            after = 0
            while len(got) < 250:
                read = await broker.read(after, 100, 2.0)
                assert read, "the broker stopped delivering before the end"
                got += read
                after = read[-1].position
            assert [m.data for m in got] == [f"m{i}".encode() for i in range(250)]
            positions = [m.position for m in got]
            assert positions == sorted(set(positions))
            assert all(m.published_at >= before for m in got)
            assert await broker.read(after, 10, 0.2) == []
        finally:
            await broker.close()

    run(go())


def test_reading_after_a_position_skips_what_lies_before_it(broker_url: str, stream: str) -> None:
    async def go() -> None:
        broker = await _opened(broker_url, stream)
        try:
            await broker.publish([b"a", b"b", b"c", b"d"])
            first = await broker.read(0, 4, 2.0)
            again = await broker.read(first[1].position, 10, 2.0)
            assert [m.data for m in again] == [b"c", b"d"]
            # a fresh connection (a restarted consumer) reads from a position too
            other = await _opened(broker_url, stream)
            try:
                assert [m.data for m in await other.read(first[2].position, 10, 2.0)] == [b"d"]
            finally:
                await other.close()
        finally:
            await broker.close()

    run(go())


def test_info_pending_and_publish_time(broker_url: str, stream: str) -> None:
    async def go() -> None:
        broker = await _opened(broker_url, stream)
        try:
            empty = await broker.info()
            assert (empty.messages, empty.last_position) == (0, 0)
            assert await broker.pending(0) == 0
            assert await broker.published_at(1) is None
            await broker.publish([b"x"] * 5)
            info = await broker.info()
            read = await broker.read(0, 5, 2.0)
            assert info.messages == 5
            assert (info.first_position, info.last_position) == (
                read[0].position,
                read[-1].position,
            )
            assert await broker.pending(0) == 5
            assert await broker.pending(read[2].position) == 2
            assert await broker.pending(read[-1].position) == 0
            when = await broker.published_at(read[3].position)
            assert when is not None and abs((when - read[3].published_at).total_seconds()) < 1
        finally:
            await broker.close()

    run(go())


@pytest.mark.parametrize("url", ["nats://127.0.0.1:1", "redis://127.0.0.1:1/0"])
def test_an_unreachable_broker_is_a_one_line_error(url: str) -> None:
    with pytest.raises(BrokerUnavailable, match="cannot be reached"):
        run(_opened(url, "s"))


@pytest.mark.parametrize(
    ("url", "says"),
    [("kafka://127.0.0.1:9092", "Kafka is not supported"), ("amqp://x", "unknown scheme")],
)
def test_kafka_and_unknown_brokers_are_refused(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        run(_opened(url, "s"))
