"""Redis Streams behind the broker port (redis-py's asyncio client, the `redis` extra).

The stream is the key `<stream>`; each message one entry with the field `d`. An entry id
`<ms>-<seq>` maps to the integer position `ms << 22 | seq` (order kept; Redis numbers at most
a few thousand entries per millisecond, far below 2**22). Reading is XREAD after a position;
no consumer group: the position lives in the lake. Entries older than max_age are trimmed at
publish (XADD MINID).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Self

from tunelake.errors import ConfigError
from tunelake.events.broker import BrokerUnavailable, Message, StreamInfo
from tunelake.redact import mask_url

FIELD = b"d"
SEQ_BITS = 22
PAGE = 10_000


def _position(entry_id: bytes) -> int:
    ms, seq = entry_id.split(b"-")
    return int(ms) << SEQ_BITS | int(seq)


def _entry_id(position: int) -> str:
    return f"{position >> SEQ_BITS}-{position & ((1 << SEQ_BITS) - 1)}"


def _time(position: int) -> datetime:
    return datetime.fromtimestamp((position >> SEQ_BITS) / 1000, UTC)


class RedisBroker:
    def __init__(self, client: Any, stream: str, url: str, max_age_hours: float) -> None:
        self._client = client
        self.stream = stream
        self.url = mask_url(url)
        self._max_age_ms = int(max_age_hours * 3_600_000)

    def __repr__(self) -> str:
        return f"RedisBroker({self.url!r}, stream={self.stream!r})"

    @classmethod
    async def connect(cls, url: str, stream: str, *, max_age_hours: float) -> Self:
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import ConnectionError as RedisConnectionError
        except ImportError:
            raise ConfigError(
                "a redis:// events broker needs the redis client: pip install 'tunelake[redis]'"
            ) from None
        client = aioredis.Redis.from_url(url, socket_connect_timeout=3.0)
        try:
            await client.ping()
        except (RedisConnectionError, OSError) as exc:
            await client.aclose()
            raise BrokerUnavailable(
                f"events broker {mask_url(url)} cannot be reached ({type(exc).__name__}); "
                "start it or fix TUNELAKE_EVENTS_URL"
            ) from None
        return cls(client, stream, url, max_age_hours)

    async def publish(self, payloads: Sequence[bytes]) -> None:
        oldest = int(time.time() * 1000) - self._max_age_ms
        async with self._client.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.xadd(self.stream, {FIELD: payload}, minid=oldest, approximate=True)
            await pipe.execute()

    async def read(self, after: int, max_messages: int, timeout: float) -> list[Message]:
        got = await self._client.xread(
            {self.stream: _entry_id(after)}, count=max_messages, block=max(1, int(timeout * 1000))
        )
        if not got:
            return []
        return [
            Message(_position(entry_id), fields[FIELD], _time(_position(entry_id)))
            for entry_id, fields in got[0][1]
        ]

    async def info(self) -> StreamInfo:
        if not await self._client.exists(self.stream):
            return StreamInfo(self.stream, self.url, 0, 0, 0)
        info = await self._client.xinfo_stream(self.stream)
        first = info.get("first-entry")
        last = info.get("last-entry")
        return StreamInfo(
            self.stream,
            self.url,
            int(info["length"]),
            _position(first[0]) if first else 0,
            _position(last[0]) if last else 0,
        )

    async def pending(self, after: int) -> int:
        # Redis counts a stream's entries only whole (XLEN); past a position it pages ids.
        count, start = 0, "(" + _entry_id(after)
        while True:
            got = await self._client.xrange(self.stream, min=start, count=PAGE)
            count += len(got)
            if len(got) < PAGE:
                return count
            start = "(" + got[-1][0].decode()

    async def published_at(self, position: int) -> datetime | None:
        got = await self._client.xrange(self.stream, min=_entry_id(max(position, 1)), count=1)
        return _time(_position(got[0][0])) if got else None

    async def close(self) -> None:
        await self._client.aclose()
