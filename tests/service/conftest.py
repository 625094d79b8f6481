"""A published data directory from real pipeline runs, and the service over it on a free
loopback port (uvicorn on a thread of the test process; clients talk real HTTP to it).

Two runs write the embedded stores: dt 2026-11-26 from the built-in catalog (60 artists),
and dt 2026-11-27 from a small CSV dump holding one out-of-range row, so that the lake has
rows in quarantine. The Redis variant publishes the catalog run to Redis under a key prefix
of its own, deleted at the end.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import port_open, service_or_skip
from tunelake import app as use_cases
from tunelake.config import Settings, load_settings
from tunelake.httpserver import serve_in_thread
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.service.api import create_app

DT = date(2026, 11, 26)
DUMP_DT = date(2026, 11, 27)
CATALOG_ARTISTS = 60
TOKEN = "tok-" + uuid.uuid4().hex
BAD_TRACK = "bad0"


def settings_of(home: Path, **overrides: Any) -> Settings:
    return load_settings(home=home, catalog_artists=CATALOG_ARTISTS, **overrides)


def _dump(path: Path) -> Path:
    """Six artists of four tracks, and one track whose danceability is out of range."""
    rows = [
        {
            "id": f"trk{a:03d}{t}",
            "name": f"Song {a}-{t}",
            "artists": f"Dump Artist {a}",
            "artist_ids": f"dumpart{a:03d}",
            "track_genre": "rock" if a % 2 else "jazz",
            **{f: round(0.1 * a + 0.02 * t, 3) for f in DEFAULT_VECTOR_FEATURES},
            "danceability": 0.2 + 0.1 * t,
            "loudness": -8.0 + t,
            "tempo": 100.0 + a,
        }
        for a in range(6)
        for t in range(4)
    ]
    rows.append({**rows[0], "id": BAD_TRACK, "danceability": 3.0})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of a catalog run and a dump run (with a quarantined row)."""
    home = tmp_path_factory.mktemp("published") / "home"
    use_cases.run(settings_of(home), dt=DT)
    dump = _dump(tmp_path_factory.mktemp("dump") / "tracks.csv")
    # a dump of 25 rows with one bad one is past the default 5 % reject limit
    use_cases.run(settings_of(home, source=f"file:{dump}", max_reject_fraction=0.1), dt=DUMP_DT)
    return home


REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def published_on_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A catalog run whose serving store is Redis, under a key prefix of its own."""
    service_or_skip("Redis", port_open("127.0.0.1", 6379), "start redis-server on 127.0.0.1:6379")
    import redis

    prefix = f"tunelake-test-service-{uuid.uuid4().hex[:8]}"
    settings = settings_of(
        tmp_path_factory.mktemp("redis") / "home", serving_url=f"{REDIS}?prefix={prefix}"
    )
    use_cases.run(settings, dt=DT)
    yield settings
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def running(settings: Settings) -> Iterator[httpx.Client]:
    """The service over settings, and an HTTP client pointed at it."""
    app = create_app(settings)
    try:
        with (
            serve_in_thread(app, name="tunelake-service") as port,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
        ):
            yield client
    finally:
        app.state.service.close()


@pytest.fixture(scope="module")
def client(published: Path) -> Iterator[httpx.Client]:
    """The service over the embedded stores, with an API token configured."""
    with running(settings_of(published, api_token=TOKEN)) as client:
        yield client


def first_artist(client: httpx.Client, q: str = "a") -> dict[str, Any]:
    items = client.get("/artists", params={"q": q, "limit": 1}).json()["items"]
    assert items, f"no artist name contains {q!r}"
    return dict(items[0])
