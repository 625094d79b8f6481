"""The broker port: a stream of messages, each a batch of events (JSON lines), with an integer
position that grows along the stream. One adapter per broker, chosen by URL
(`TUNELAKE_EVENTS_URL`):

- `nats://host:port` — NATS JetStream (nats-py); none set: the embedded nats-server;
- `redis://host:port/db` — Redis Streams (redis-py, the `redis` extra);
- `kafka://…` — refused with the reason: no Kafka broker runs here, so an adapter would ship
  untested (see the README for how one would plug in).

Reading is by position (`read(after, …)`): the consumer keeps its position in the lake, not
in the broker, so a broker needs no consumer state of ours to be exactly once, and a restart
(of the consumer or of the broker) resumes from what the lake holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from tunelake.errors import BackendUnavailable, ConfigError
from tunelake.redact import mask_url


class BrokerUnavailable(BackendUnavailable):
    """The broker cannot be reached: start it or fix TUNELAKE_EVENTS_URL."""


@dataclass(frozen=True, slots=True)
class Message:
    position: int
    data: bytes
    published_at: datetime


@dataclass(frozen=True)
class StreamInfo:
    stream: str
    url: str
    """Masked: holds no password."""
    messages: int
    first_position: int
    last_position: int
    """0 when the stream is empty."""


class Broker(Protocol):
    stream: str

    async def publish(self, payloads: Sequence[bytes]) -> None:
        """Append payloads (in order) and return once the broker has stored them all."""

    async def read(self, after: int, max_messages: int, timeout: float) -> list[Message]:
        """Up to max_messages messages with position > after, in order; waits up to timeout
        seconds for the first one (an empty list: none arrived)."""

    async def info(self) -> StreamInfo:
        """The stream's size and positions."""

    async def pending(self, after: int) -> int:
        """How many messages the stream holds after position `after`."""

    async def published_at(self, position: int) -> datetime | None:
        """When the first message at or after position was published (None: there is none)."""

    async def close(self) -> None: ...


async def open_broker(url: str, stream: str, *, max_age_hours: float) -> Broker:
    """The broker at url, its stream created if missing (kept max_age_hours)."""
    scheme = urlsplit(url).scheme
    if scheme in ("nats", "tls"):
        from tunelake.events.nats_broker import NatsBroker

        return await NatsBroker.connect(url, stream, max_age_hours=max_age_hours)
    if scheme in ("redis", "rediss"):
        from tunelake.events.redis_broker import RedisBroker

        return await RedisBroker.connect(url, stream, max_age_hours=max_age_hours)
    if scheme == "kafka":
        raise ConfigError(
            f"events broker {mask_url(url)}: Kafka is not supported yet (no Kafka broker runs "
            "here to test an adapter against); use nats:// or redis://"
        )
    raise ConfigError(
        f"events broker {mask_url(url)}: unknown scheme {scheme!r}; use nats://host:port "
        "(NATS JetStream), redis://host:port/db (Redis Streams), or leave TUNELAKE_EVENTS_URL "
        "unset for the embedded nats-server"
    )
