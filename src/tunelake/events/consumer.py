"""The consumer: broker messages → validated, de-duplicated micro-batches → Iceberg `plays`.

Exactly once by design: each micro-batch is one Iceberg commit that appends its rows and moves
the table's position (events/table.py) to its last message. The consumer reads from the
position `plays` holds, so messages redelivered after a crash (between a commit and whatever
came next) were either committed — at or below the position, never read again — or not, and
are read again. Rejects go to `quarantine_plays` first, with its own position, so a replayed
message's rejects are not quarantined twice. Duplicate event ids are dropped (dedup.py).

Throughput: a batch is decoded column-wise (validate.py) and committed in a worker thread
while the event loop reads the next one, so reading, decoding and the Iceberg commit overlap.
A micro-batch closes at batch_events events, at MAX_BATCH_BYTES, or after batch_seconds (the
commit interval, TUNELAKE_EVENTS_BATCH_SECONDS: what bounds freshness at a low rate).

Memory is bounded by the batch size whatever the backlog: one batch is read while the previous
one commits, and nothing else is held. SIGINT/SIGTERM stop reading; the batch in hand is
committed, then the consumer returns.

One consumer per stream and table: a second is refused at once on the same machine (a lock
file), and fenced by the position anywhere else (its commit finds the position moved). One is
enough: it sustains the broker's rate on one core, and the commits to one Iceberg table are
serial anyway — parallel writers would only race for them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import pyarrow as pa

from tunelake.errors import UserError
from tunelake.events import table as tables
from tunelake.events.broker import Broker
from tunelake.events.dedup import SeenIds
from tunelake.events.schema import PLAYS, QUARANTINE_PLAYS, QUARANTINE_SCHEMA, RECEIVED_AT
from tunelake.events.validate import parse
from tunelake.storage.lake import IcebergLake


class ConsumerRunning(UserError):
    """Another consumer of the stream runs from this data directory."""


@dataclass
class Consumed:
    messages: int = 0
    events: int = 0
    rows: int = 0
    duplicates: int = 0
    quarantined: int = 0
    commits: int = 0
    skipped_messages: int = 0
    """Messages at or below a table's position, read again and not written twice."""
    position: int = 0


@dataclass(frozen=True)
class Limits:
    batch_events: int
    batch_seconds: float
    dedup_days: int
    until_idle: float | None = None
    """Return after this many seconds without a message (None: run until stopped)."""
    messages_per_read: int = 256


MAX_BATCH_BYTES = 32 << 20
"""A micro-batch also closes at this many bytes of messages: with two batches in flight (one
read, one committed) and their decoded columns, the consumer holds a few times this."""


@contextmanager
def single_consumer(lock_dir: Path, stream: str) -> Iterator[None]:
    """Hold the consumer lock of stream in lock_dir; ConsumerRunning if another holds it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"consumer-{stream}.lock"
    handle: IO[str] = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ConsumerRunning(
                f"a consumer of stream {stream} already runs from this data directory (pid "
                f"{holder}); one consumer per stream: stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


class Consumer:
    def __init__(
        self,
        lake: IcebergLake,
        broker: Broker,
        limits: Limits,
        on_ready: Callable[[int], None] | None = None,
    ) -> None:
        """on_ready(position): called once the consumer reads, with the position it resumes
        after (a caller that publishes for a measurement waits for it)."""
        self.lake = lake
        self.broker = broker
        self.limits = limits
        self.stats = Consumed()
        self._stop = asyncio.Event()
        plays = tables.plays_table(lake)
        self._position = tables.position(plays, broker.stream)
        self._quarantine_position = tables.position(tables.quarantine_table(lake), broker.stream)
        self.stats.position = self._position
        self._seen = SeenIds(self._day_ids, limits.dedup_days)
        self._on_ready = on_ready
        self._per_message = (1, 1 << 20)
        """(events, bytes) of the last message read; at first as large as NATS allows."""

    def _day_ids(self, day: date) -> pa.ChunkedArray:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        got = tables.read_plays(self.lake, start, start + timedelta(days=1), ["event_id"])
        return got.column("event_id")

    def stop(self) -> None:
        """Finish the batch in hand, commit it, and return."""
        self._stop.set()

    async def run(self) -> Consumed:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        try:
            await self._run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return self.stats

    async def _run(self) -> None:
        # One worker thread decodes and commits: a pool would spread batches over several
        # threads, each keeping its own allocator arenas (the consumer's RSS grew by a batch's
        # working set per thread).
        with ThreadPoolExecutor(1, thread_name_prefix="plays-commit") as worker:
            await self._loop(worker)

    async def _loop(self, worker: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        read_after = self._position
        committing: asyncio.Future[None] | None = None
        last_message = time.monotonic()
        if self._on_ready is not None:
            self._on_ready(read_after)
        while not self._stop.is_set():
            batch = await self._batch(read_after)
            if batch:
                last_message = time.monotonic()
                read_after = batch[-1][0]
                if committing is not None:
                    await committing  # one batch commits while the next one is read
                committing = loop.run_in_executor(worker, self._ingest, batch, read_after)
            elif (
                self.limits.until_idle is not None
                and time.monotonic() - last_message >= self.limits.until_idle
            ):
                break
        if committing is not None:
            await committing

    async def _batch(self, after: int) -> list[tuple[int, bytes]]:
        """Messages after `after` until batch_events events, MAX_BATCH_BYTES, or batch_seconds
        have passed."""
        deadline = time.monotonic() + self.limits.batch_seconds
        got: list[tuple[int, bytes]] = []
        events = size = 0
        while (
            events < self.limits.batch_events and size < MAX_BATCH_BYTES and not self._stop.is_set()
        ):
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
            want = self._messages_wanted(self.limits.batch_events - events, MAX_BATCH_BYTES - size)
            read = await self.broker.read(after, want, min(wait, 0.5))
            for message in read:
                got.append((message.position, message.data))
                lines = message.data.count(b"\n") + 1
                events += lines
                size += len(message.data)
                self._per_message = (lines, len(message.data))
            if read:
                after = read[-1].position
        return got

    def _messages_wanted(self, events: int, size: int) -> int:
        """How many messages to fetch to fill `events` events and `size` bytes (sized by the
        last message seen; messages of one producer are alike): a fetch overshoots a batch by
        one message at most, so the batch limits hold whatever the message size."""
        lines, length = self._per_message
        fits = min(-(-events // max(lines, 1)), -(-size // max(length, 1)))
        return max(1, min(self.limits.messages_per_read, fits))

    def _ingest(self, batch: list[tuple[int, bytes]], last: int) -> None:
        """Decode, check, de-duplicate and commit a batch (in a worker thread)."""
        fresh = [m for m in batch if m[0] > self._position]
        self.stats.skipped_messages += len(batch) - len(fresh)
        self.stats.messages += len(batch)
        if not fresh:  # all committed before a crash: nothing to write, no position to move
            return
        parsed = parse(fresh)
        received = datetime.now(UTC)
        stream = self.broker.stream
        rejected = [r for r in parsed.rejected if r[0] > self._quarantine_position]
        if rejected:
            rows = pa.Table.from_pydict(
                {
                    "payload": [r[1] for r in rejected],
                    "reason": [r[2] for r in rejected],
                    RECEIVED_AT.name: [received] * len(rejected),
                },
                schema=QUARANTINE_SCHEMA,
            )
            committed = tables.commit(
                self.lake, QUARANTINE_PLAYS, rows, stream, self._quarantine_position, last
            )
            self._quarantine_position = last
            tables.trim_history(committed)
        keep = self._seen.fresh(parsed.keys, parsed.micros)
        plays = parsed.plays.take(keep)
        plays = plays.append_column(
            RECEIVED_AT, pa.repeat(pa.scalar(received, RECEIVED_AT.type), plays.num_rows)
        )
        committed = tables.commit(self.lake, PLAYS, plays, stream, self._position, last)
        self._position = last
        tables.trim_history(committed)
        good = parsed.plays.num_rows
        self.stats.events += good + len(parsed.rejected)
        self.stats.rows += plays.num_rows
        self.stats.duplicates += good - len(keep)
        self.stats.quarantined += len(rejected)
        self.stats.commits += 1
        self.stats.position = last
