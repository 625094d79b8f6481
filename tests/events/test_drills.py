"""Drills: the consumer killed at random moments, the broker restarted mid-stream, a SIGTERM
mid-stream. After each, rows = published - duplicates - quarantined, each event_id once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunelake import app
from tunelake.config import Settings
from tunelake.events.simulator import Produced
from tunelake.localservices.nats import start_nats
from tunelake.pipeline.resources import lake_of

pytestmark = [pytest.mark.slow, pytest.mark.services]


def _env(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "TUNELAKE_HOME": str(settings.home),
        "TUNELAKE_EVENTS_URL": settings.events_url or "",
        "TUNELAKE_EVENTS_STREAM": settings.events_stream,
        "TUNELAKE_EVENTS_BATCH_EVENTS": "400",
        "TUNELAKE_EVENTS_BATCH_SECONDS": "0.1",
    }


def _consumer(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tunelake", "events", "consume", *args],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _drain(settings: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunelake", "events", "consume", "--until-idle", "2"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def _check(settings: Settings, expected: Produced) -> None:
    """Every valid event once in plays, every malformed one once in quarantine_plays."""
    got = app.sql(settings, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM plays").rows[0]
    assert got == (expected.valid_unique, expected.valid_unique)
    quarantined = app.sql(settings, "SELECT COUNT(*) FROM quarantine_plays").rows[0][0]
    assert quarantined == expected.malformed > 0


def _rows(settings: Settings) -> int:
    plays = lake_of(settings).load("plays")
    snapshot = plays.current_snapshot() if plays is not None else None
    return int(snapshot.summary.get("total-records", 0)) if snapshot and snapshot.summary else 0


def _published(settings: Settings, count: int, seed: int) -> Produced:
    return app.events_produce(settings, count=count, seed=seed)


def test_sigkill_at_random_moments_then_restart(settings: Settings) -> None:
    expected = _published(settings, 30_000, seed=11)
    rng = random.Random(5)
    for _ in range(5):
        consumer = _consumer(settings)
        time.sleep(rng.uniform(0.8, 3.0))  # mid-batch, mid-commit or just after one
        consumer.send_signal(signal.SIGKILL)
        consumer.communicate()
    _drain(settings)
    _check(settings, expected)


def test_a_broker_restarted_mid_stream(settings: Settings, tmp_path: Path) -> None:
    server = start_nats(tmp_path / "nats")
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    settings = settings.model_copy(update={"events_url": server.endpoint_url})
    expected = _published(settings, 10_000, seed=12)
    consumer = _consumer(settings, "--until-idle", "8")
    time.sleep(1.5)
    server.stop()
    time.sleep(1.0)
    server = start_nats(tmp_path / "nats", port=port)  # same store, same port
    try:
        more = _published(settings, 10_000, seed=13)
        expected.events += more.events
        expected.duplicates += more.duplicates
        expected.malformed += more.malformed
        consumer.communicate(timeout=120)
        _drain(settings)  # whether or not the first consumer outlived the outage
        _check(settings, expected)
    finally:
        server.stop()


def test_sigterm_drains_commits_and_exits_cleanly(settings: Settings) -> None:
    expected = _published(settings, 20_000, seed=14)
    consumer = _consumer(settings)
    deadline = time.monotonic() + 60
    while _rows(settings) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # it runs and commits: now stop it mid-stream
    consumer.send_signal(signal.SIGTERM)
    out, err = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, err
    assert "committed" in out
    _drain(settings)
    _check(settings, expected)
