"""NATS JetStream behind the broker port (nats-py).

The stream `<stream>` holds the subject `<stream>.plays` in file storage, kept max_age. A
message's position is its stream sequence. Reading uses an ephemeral pull consumer that starts
at the asked position and needs no acks (AckNone: the position lives in the lake); it is
recreated when a read asks for another position than the one it would deliver next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, Self

import nats
from nats.errors import Error as NatsError
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from tunelake.events.broker import BrokerUnavailable, Message, StreamInfo
from tunelake.redact import mask_url

CONNECT_TIMEOUT = 3.0
PUBLISH_WINDOW = 256
"""Publishes in flight before waiting for the broker's acknowledgements."""
INACTIVE = 60.0
"""Seconds after which the server drops a reader's consumer left behind (a killed process)."""


class NatsBroker:
    def __init__(self, nc: Any, stream: str, url: str) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self.stream = stream
        self.subject = f"{stream}.plays"
        self.url = mask_url(url)
        self._sub: Any = None
        self._next = 0

    def __repr__(self) -> str:
        return f"NatsBroker({self.url!r}, stream={self.stream!r})"

    @classmethod
    async def connect(cls, url: str, stream: str, *, max_age_hours: float) -> Self:
        try:
            nc = await nats.connect(
                url,
                connect_timeout=CONNECT_TIMEOUT,
                max_reconnect_attempts=10,  # a restarted broker: up to ~5 s away
                reconnect_time_wait=0.5,
                allow_reconnect=True,
            )
        except (TimeoutError, NoServersError, OSError, NatsError) as exc:
            raise BrokerUnavailable(
                f"events broker {mask_url(url)} cannot be reached ({type(exc).__name__}); "
                "start it or fix TUNELAKE_EVENTS_URL"
            ) from None
        broker = cls(nc, stream, url)
        try:
            await broker._js.stream_info(stream)
        except NotFoundError:
            await broker._js.add_stream(
                StreamConfig(
                    name=stream,
                    subjects=[broker.subject],
                    storage=StorageType.FILE,
                    max_age=max_age_hours * 3600,
                )
            )
        return broker

    async def publish(self, payloads: Sequence[bytes]) -> None:
        for start in range(0, len(payloads), PUBLISH_WINDOW):
            acks = [
                await self._js.publish_async(self.subject, payload)
                for payload in payloads[start : start + PUBLISH_WINDOW]
            ]
            await asyncio.gather(*acks)

    async def read(self, after: int, max_messages: int, timeout: float) -> list[Message]:
        if self._sub is None or after + 1 != self._next:
            await self._unsubscribe()
            self._sub = await self._js.pull_subscribe(
                self.subject,
                durable=None,
                stream=self.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=after + 1,
                    inactive_threshold=INACTIVE,
                ),
            )
        try:
            got = await self._sub.fetch(max_messages, timeout=timeout)
        except (TimeoutError, NatsTimeout):  # nats-py raises either when none came
            return []
        messages = [Message(m.metadata.sequence.stream, m.data, m.metadata.timestamp) for m in got]
        # Messages older than the stream keeps are gone: the next one read is past them.
        messages = [m for m in messages if m.position > after]
        if messages:
            self._next = messages[-1].position + 1
        else:
            self._next = after + 1
        return messages

    async def info(self) -> StreamInfo:
        state = (await self._js.stream_info(self.stream)).state
        return StreamInfo(self.stream, self.url, state.messages, state.first_seq, state.last_seq)

    async def pending(self, after: int) -> int:
        info = await self.info()
        return max(0, info.last_position - max(after, info.first_position - 1))

    async def published_at(self, position: int) -> datetime | None:
        try:
            found = await self._js.get_msg(self.stream, seq=max(position, 1), next=True)
        except NotFoundError:
            return None
        time: datetime | None = found.time
        return time

    async def _unsubscribe(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            # On a connection going away the server drops the consumer itself (INACTIVE).
            with suppress(NatsError):
                await sub.unsubscribe()

    async def close(self) -> None:
        await self._unsubscribe()
        await self._nc.close()
