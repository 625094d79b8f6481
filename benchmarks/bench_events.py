"""Listening events figures, each against a baseline measured in the same run (issue 17):

1. backlog, for each message shape (--per-message: events a message, 1 = one event a
   message): N simulated events (with their faults) published to a fresh stream; the broker
   client's bare consume rate (nats-py through the broker port, the consumer's fetch size,
   nothing decoded or written) against `tunelake events consume` draining the same stream
   into `plays` (events / second from its ready line to the Iceberg commit that holds the last
   position, read from the snapshot's own timestamp, so nothing polls the lake meanwhile;
   targets ≥ 20,000/s and ≥ 0.5x bare), and the consumer process's peak RSS (psutil, sampled;
   target < 500 MB with 1,000,000 events);
2. freshness: a consumer started and ready first, then events published at --rate a second;
   every --sample-every-th message's first event is looked for with `tunelake sql` (app.sql,
   in this process) until visible: publish → visible, p50/p99 (target p99 ≤ 5 s at 5,000/s);
3. query: plays per artist for the busiest day, before and after `events compact` (files, ms).

    .venv/bin/python benchmarks/bench_events.py [--events 1000000] [--per-message 1,10,100]
        [--rate 5000] [--seconds 30] [--url nats://127.0.0.1:4222]

Without --url it uses the machine's NATS on 127.0.0.1:4222 if one listens, else starts the
embedded nats-server in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil

from bench_lake import best  # the fastest of n runs: one rule for the benchmarks
from tunelake import app
from tunelake.config import Settings
from tunelake.events import table as tables
from tunelake.events.broker import Broker, open_broker
from tunelake.events.simulator import Faults, Produced, Simulator
from tunelake.localservices.nats import start_nats
from tunelake.pipeline.resources import lake_of

PER_MESSAGE = Settings.model_fields["events_per_message"].default
"""Events a message of the freshness run: the producer's default (TUNELAKE_EVENTS_PER_MESSAGE)."""
FETCH = 256
"""Messages a fetch: the consumer's most (Limits.messages_per_read)."""


@contextmanager
def broker_url(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=0.5):
            yield "nats://127.0.0.1:4222"
            return
    except OSError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp))
        try:
            yield server.endpoint_url
        finally:
            server.stop()


def messages(
    count: int, start: datetime, rate: float, faults: Faults, per_message: int
) -> tuple[list[bytes], Produced]:
    produced = Produced()
    simulator = Simulator(seed=1, start=start, rate=rate, faults=faults)
    lines = [line for chunk in simulator.lines(count, produced) for line in chunk]
    return [
        b"\n".join(lines[i : i + per_message]) for i in range(0, len(lines), per_message)
    ], produced


async def _broker(url: str, stream: str) -> Broker:
    return await open_broker(url, stream, max_age_hours=24)


async def publish(url: str, stream: str, payloads: list[bytes]) -> float:
    broker = await _broker(url, stream)
    try:
        began = time.perf_counter()
        for i in range(0, len(payloads), 1000):
            await broker.publish(payloads[i : i + 1000])
        return time.perf_counter() - began
    finally:
        await broker.close()


async def bare_consume(url: str, stream: str, last: int) -> tuple[int, float]:
    """Every event of the stream read through the broker port, nothing done with it."""
    broker = await _broker(url, stream)
    try:
        events, after = 0, 0
        began = time.perf_counter()
        while after < last:
            for message in await broker.read(after, FETCH, 1.0):
                events += message.data.count(b"\n") + 1
                after = message.position
        return events, time.perf_counter() - began
    finally:
        await broker.close()


@dataclass
class ConsumerRun:
    ready_at: float
    done_at: float
    peak_rss: int
    output: str


def env_of(home: Path, url: str, stream: str) -> dict[str, str]:
    return os.environ | {
        "TUNELAKE_HOME": str(home),
        "TUNELAKE_EVENTS_URL": url,
        "TUNELAKE_EVENTS_STREAM": stream,
    }


def start_consumer(home: Path, url: str, stream: str) -> tuple[subprocess.Popen[str], float]:
    """`tunelake events consume` started; returns once it printed its ready line, with the
    wall-clock time of that line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tunelake", "events", "consume", "--until-idle", "3"],
        env=env_of(home, url, stream),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("consuming"):
        process.kill()
        raise SystemExit(f"the consumer did not start: {line}{process.stdout.read()}")
    return process, time.time()


def drain(home: Path, url: str, stream: str, last: int) -> ConsumerRun:
    """The consumer drains the stream and stops when idle; its peak RSS sampled every 20 ms.
    Done is when the commit that holds the last position was made (its snapshot's time)."""
    settings = Settings(home=home, events_url=url, events_stream=stream)
    process, ready = start_consumer(home, url, stream)
    peak = 0
    watched = psutil.Process(process.pid)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate(timeout=1800)
    stop.set()
    sampler.join()
    plays = lake_of(settings).load("plays")
    snapshot = plays.current_snapshot() if plays is not None else None
    if process.returncode or snapshot is None or tables.position(plays, stream) != last:
        raise SystemExit(f"the consumer did not drain the stream: {output}")
    return ConsumerRun(ready, snapshot.timestamp_ms / 1000, peak, output.strip())


def freshness(url: str, rate: float, seconds: float, sample_every: int) -> list[float]:
    """Publish → visible in `tunelake sql` of sampled events, at rate events a second."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        stream = f"fresh{uuid.uuid4().hex[:8]}"
        settings = Settings(home=home, events_url=url, events_stream=stream)
        payloads, _ = messages(
            int(rate * seconds), datetime.now(UTC), rate, Faults(0, 0, 0), PER_MESSAGE
        )
        process, _ = start_consumer(home, url, stream)
        published: dict[str, float] = {}
        seen: dict[str, float] = {}
        finished = threading.Event()

        def poll() -> None:
            while True:
                waiting = [i for i in list(published) if i not in seen]
                if waiting:
                    listed = ", ".join(f"'{i}'" for i in waiting)
                    try:
                        got = app.sql(
                            settings, f"SELECT event_id FROM plays WHERE event_id IN ({listed})"
                        )
                    except Exception:
                        got = None
                    now = time.perf_counter()
                    for (event_id,) in got.rows if got else []:
                        seen.setdefault(event_id, now)
                elif finished.is_set():
                    return
                time.sleep(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        async def paced() -> None:
            broker = await _broker(url, stream)
            try:
                began = time.perf_counter()
                for n, payload in enumerate(payloads):
                    ahead = n * PER_MESSAGE / rate - (time.perf_counter() - began)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                    await broker.publish([payload])
                    if n % sample_every == 0:
                        event_id = payload[payload.index(b'"event_id":"') + 12 :][:36]
                        published[event_id.decode()] = time.perf_counter()
            finally:
                await broker.close()

        asyncio.run(paced())
        finished.set()
        poller.join(timeout=seconds + 60)
        process.send_signal(2)
        process.communicate(timeout=60)
        return [seen[i] - published[i] for i in published if i in seen]


def compaction(home: Path, url: str, stream: str, repeat: int) -> None:
    settings = Settings(home=home, events_url=url, events_stream=stream)
    lake = lake_of(settings)
    files = lake.files("plays")
    day = max(files, key=lambda d: len(files[d]))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    query = (
        "SELECT artist_id, COUNT(*) AS plays FROM plays "
        f"WHERE ts >= TIMESTAMPTZ '{start.isoformat()}' "
        f"AND ts < TIMESTAMPTZ '{(start + timedelta(days=1)).isoformat()}' "
        "GROUP BY artist_id ORDER BY plays DESC"
    )
    before_files = len(files[day])
    before = best(repeat, lambda: app.sql(settings, query))
    rows = len(app.sql(settings, query).rows)
    took = time.perf_counter()
    done = app.events_compact(settings, day=day)
    took = time.perf_counter() - took
    after_files = len(lake_of(settings).files("plays")[day])
    after = best(repeat, lambda: app.sql(settings, query))
    print(f"query: plays per artist on {day} ({rows} artists)")
    print(f"  before compaction: {before_files:4d} files, {before * 1000:7.1f} ms")
    print(
        f"  after compaction:  {after_files:4d} files, {after * 1000:7.1f} ms "
        f"({before / after:.2f}x faster; compaction took {took:.1f} s, {done[0].rows} rows)"
    )


def throughput(url: str, home: Path, count: int, per_message: int) -> str:
    """Backlog → bare consume and end to end for one message shape; the stream's name."""
    stream = f"bench{uuid.uuid4().hex[:8]}"
    payloads, produced = messages(
        count, datetime.now(UTC) - timedelta(seconds=count / 1000), 1000.0, Faults(), per_message
    )
    last = len(payloads)
    took = asyncio.run(publish(url, stream, payloads))
    del payloads
    print(
        f"{per_message} event(s) a message: published {produced.events:,} events in {took:.1f} s "
        f"({produced.events / took:,.0f}/s): {produced.duplicates:,} duplicates, "
        f"{produced.malformed:,} malformed, {produced.late:,} late"
    )
    events, bare_took = asyncio.run(bare_consume(url, stream, last))
    bare = events / bare_took
    print(f"  bare consume (nats-py, {FETCH} messages a fetch): {bare:,.0f} events/s")
    run = drain(home, url, stream, last)
    e2e = produced.events / (run.done_at - run.ready_at)
    print(f"  consumer: {run.output}")
    print(
        f"  end to end (backlog → queryable in plays): {run.done_at - run.ready_at:.2f} s = "
        f"{e2e:,.0f}/s = {e2e / bare:.2f}x bare (targets ≥ 20,000/s, ≥ 0.5x)"
    )
    counted = app.sql(
        Settings(home=home, events_url=url, events_stream=stream),
        "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM plays",
    ).rows[0]
    print(
        f"  plays: {counted[0]:,} rows, {counted[1]:,} distinct (expected "
        f"{produced.valid_unique:,}); consumer peak RSS {run.peak_rss / 2**20:.0f} MB "
        "(target < 500 MB)"
    )
    return stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-message", default="1,10,100")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url")
    args = parser.parse_args()
    with broker_url(args.url) as url, tempfile.TemporaryDirectory() as tmp:
        print(f"broker {url}; {args.events:,} events a run")
        for per_message in [int(n) for n in args.per_message.split(",")]:
            home = Path(tmp) / f"home{per_message}"
            stream = throughput(url, home, args.events, per_message)
        lags = freshness(url, args.rate, args.seconds, args.sample_every)
        if lags:
            p50, p99 = np.percentile(lags, [50, 99])
            print(
                f"freshness at {args.rate:,.0f}/s for {args.seconds:.0f} s, {PER_MESSAGE} event(s) "
                f"a message, {len(lags)} sampled events (publish → visible in tunelake sql): "
                f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(lags):.2f} s (target p99 ≤ 5 s)"
            )
        else:
            print("freshness: no sampled event became visible")
        compaction(home, url, stream, args.repeat)


if __name__ == "__main__":
    main()
