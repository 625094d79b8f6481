"""Serving-store backends for the contract suite: a fresh namespace per test (a SQLite file,
a Redis key prefix, a DynamoDB table) on real servers — Redis on 127.0.0.1:6379, and the
session's dynalite (the `dynalite` fixture of tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import port_open, service_or_skip
from tunelake.storage.serving import ServingStore, open_serving

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RUN_PREFIX = f"tunelake-test-{uuid.uuid4().hex[:8]}"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("redis", id="redis", marks=pytest.mark.services),
    pytest.param("dynamodb", id="dynamodb", marks=pytest.mark.services),
]


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    service_or_skip(
        "Redis",
        port_open(REDIS_HOST, REDIS_PORT),
        f"start redis-server on {REDIS_HOST}:{REDIS_PORT}",
    )
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    client = redis.Redis(REDIS_HOST, REDIS_PORT)
    stale = list(client.scan_iter(match=f"{RUN_PREFIX}:*", count=1_000))
    for start in range(0, len(stale), 1_000):
        client.delete(*stale[start : start + 1_000])
    client.close()


@pytest.fixture(params=BACKENDS)
def serving_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    namespace = uuid.uuid4().hex[:12]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'serving.db'}"
    if request.param == "redis":
        base = request.getfixturevalue("redis_base_url")
        return f"{base}?prefix={RUN_PREFIX}:{namespace}"
    endpoint = request.getfixturevalue("dynalite").endpoint_url
    return f"dynamodb://serving-{namespace}?endpoint_url={endpoint}&region=us-east-1"


@pytest.fixture
def open_store(serving_url: str) -> Iterator[Callable[[], ServingStore]]:
    """Opens store objects on the test's one namespace; all are closed after the test."""
    opened: list[ServingStore] = []

    def open_() -> ServingStore:
        opened.append(open_serving(serving_url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], ServingStore]) -> ServingStore:
    return open_store()
