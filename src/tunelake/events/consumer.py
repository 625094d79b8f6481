"""The consumer: broker messages → validated, de-duplicated micro-batches → Iceberg `plays`.

Exactly once by design: each micro-batch is one Iceberg commit that appends its rows and moves
the table's position (events/table.py) to its last message. The consumer reads from the
position `plays` holds, so messages redelivered after a crash (between a commit and whatever
came next) were either committed — at or below the position, never written again — or not, and
are read again. Rejects are held, then committed to `quarantine_plays` with its own position (at
most the position of `plays`); the consumer reads from the lower of the two, so a message
between them is read again for its rejects only, and none is quarantined twice. Duplicate event
ids are dropped (dedup.py).

Throughput: a batch is decoded column-wise (validate.py) and de-duplicated in one worker
thread and committed in another, while the event loop reads the next one: reading, decoding
and the Iceberg commit of three batches overlap (much of decoding and writing runs in Arrow,
outside the GIL). A micro-batch closes at batch_events events, at MAX_BATCH_BYTES, or after
batch_seconds (the commit interval, TUNELAKE_EVENTS_BATCH_SECONDS: what bounds freshness at a
low rate).

Memory is bounded by the batch size whatever the backlog: one batch is read while the one
before is decoded and the one before that commits, and nothing else is held. SIGINT/SIGTERM
stop reading; the batches in hand are committed, then the consumer returns.

One consumer per stream and table: a second is refused at once on the same machine (a lock
file), and fenced by the position anywhere else (its commit finds the position moved). The
commits to one Iceberg table are serial anyway: parallel writers would only race for them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
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


@dataclass
class Decoded:
    """A batch between the decode and the commit stages."""

    received: datetime
    plays: pa.Table | None = None
    """Rows to append (None: the batch's messages were all committed before)."""
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    events: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class Limits:
    batch_events: int
    batch_seconds: float
    dedup_days: int
    until_idle: float | None = None
    """Return after this many seconds without a message (None: run until stopped)."""
    messages_per_read: int = 256


QUARANTINE_SECONDS = 10.0
QUARANTINE_ROWS = 10_000
"""Rejects are held and committed to `quarantine_plays` every QUARANTINE_SECONDS, at
QUARANTINE_ROWS, and when the consumer stops: a quarantine commit with every batch would double
the consumer's commits (almost every batch of a real stream has a bad event)."""
READ_BYTES = 2 << 20
"""About the most bytes of messages one read asks for: the client holds a read's messages
more than once while it parses them (30 KB messages read 256 at a time took the consumer's
peak RSS past 500 MB)."""
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
        self._plays = tables.StreamTable(lake, PLAYS, broker.stream)
        self._quarantine = tables.StreamTable(lake, QUARANTINE_PLAYS, broker.stream)
        self._resumed_after = self._plays.position
        """Messages up to here were committed to `plays` before this consumer started."""
        self._processed = self._plays.position
        """The last message whose events are committed or held as rejects."""
        self._held: list[tuple[int, str, str, datetime]] = []
        """Rejects not committed yet: (position, raw line, reason, received)."""
        self._quarantined_at = time.monotonic()
        self.stats.position = self._plays.position
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
        # The C library's allocator: Arrow's default (mimalloc) keeps each thread's freed
        # batches, which put the consumer over 500 MB of RSS at the same throughput.
        pa.set_memory_pool(pa.system_memory_pool())
        # Two stages, one thread each, so batches stay in order: one decodes a batch while
        # the other commits the one before, and the event loop reads the next. One thread a
        # stage: a pool would spread batches over more threads, each keeping its own allocator
        # arenas (the consumer's RSS grew by a batch's working set per thread).
        with (
            ThreadPoolExecutor(1, thread_name_prefix="plays-decode") as decoder,
            ThreadPoolExecutor(1, thread_name_prefix="plays-commit") as committer,
        ):
            await self._loop(decoder, committer)

    async def _loop(self, decoder: ThreadPoolExecutor, committer: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        # Messages between the two positions are read again for their rejects only.
        read_after = min(self._plays.position, self._quarantine.position)
        in_flight: deque[asyncio.Task[None]] = deque()
        last_message = time.monotonic()
        if self._on_ready is not None:
            self._on_ready(read_after)
        while not self._stop.is_set():
            while in_flight and in_flight[0].done():
                await in_flight.popleft()  # a failed commit stops the consumer now, idle or not
            batch = await self._batch(read_after)
            if batch:
                last_message = time.monotonic()
                read_after = batch[-1][0]
                while len(in_flight) >= 2:  # one decoding, one committing: memory stays bounded
                    await in_flight.popleft()
                before = in_flight[-1] if in_flight else None
                in_flight.append(
                    asyncio.create_task(
                        self._through(decoder, committer, batch, read_after, before)
                    )
                )
                del batch  # held by its task alone, which lets go of it once decoded
            elif (
                self.limits.until_idle is not None
                and time.monotonic() - last_message >= self.limits.until_idle
            ):
                break
        for task in in_flight:
            await task
        await loop.run_in_executor(committer, self._commit_quarantine)

    async def _through(
        self,
        decoder: ThreadPoolExecutor,
        committer: ThreadPoolExecutor,
        batch: list[tuple[int, bytes]],
        last: int,
        before: asyncio.Task[None] | None,
    ) -> None:
        """A batch decoded, then committed once the batch before it is."""
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(decoder, self._decode, batch)
        del batch  # its messages are not held while the batch waits for its commit
        if before is not None:
            await before
        await loop.run_in_executor(committer, self._commit, decoded, last)

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
        size = min(size, READ_BYTES)
        fits = min(-(-events // max(lines, 1)), -(-size // max(length, 1)))
        return max(1, min(self.limits.messages_per_read, fits))

    def _decode(self, batch: list[tuple[int, bytes]]) -> Decoded:
        """A batch's rows to append (checked, de-duplicated) and its rejects (decode stage)."""
        received = datetime.now(UTC)
        self.stats.messages += len(batch)
        # Committed before: read again (after a restart) for their rejects only.
        committed = [m for m in batch if m[0] <= self._resumed_after]
        fresh = batch[len(committed) :]
        self.stats.skipped_messages += len(committed)
        decoded = Decoded(received)
        if committed and committed[-1][0] > self._quarantine.position:
            decoded.rejected.extend(parse(committed).rejected)
        if not fresh:
            return decoded
        parsed = parse(fresh)
        decoded.rejected.extend(parsed.rejected)
        keep = self._seen.fresh(parsed.keys, parsed.micros)
        plays = parsed.plays.take(keep)
        decoded.plays = plays.append_column(
            RECEIVED_AT, pa.repeat(pa.scalar(received, RECEIVED_AT.type), plays.num_rows)
        )
        decoded.events = parsed.plays.num_rows + len(parsed.rejected)
        decoded.duplicates = parsed.plays.num_rows - len(keep)
        return decoded

    def _commit(self, decoded: Decoded, last: int) -> None:
        """Commit a decoded batch whose last message is at `last` (commit stage)."""
        after = self._quarantine.position
        self._held.extend((*r, decoded.received) for r in decoded.rejected if r[0] > after)
        if decoded.plays is not None:
            self._plays.commit(decoded.plays, last)
            self.stats.events += decoded.events
            self.stats.rows += decoded.plays.num_rows
            self.stats.duplicates += decoded.duplicates
            self.stats.commits += 1
            self.stats.position = last
        self._processed = max(self._processed, last)
        if len(self._held) >= QUARANTINE_ROWS or (
            time.monotonic() - self._quarantined_at >= QUARANTINE_SECONDS
        ):
            self._commit_quarantine()

    def _commit_quarantine(self) -> None:
        """Commit the held rejects and move the quarantine's position up to what is processed
        (a commit even without rejects: a restart reads again from its position)."""
        self._quarantined_at = time.monotonic()
        if self._processed <= self._quarantine.position:
            return
        held, self._held = self._held, []
        rows = pa.Table.from_pydict(
            {
                "payload": [r[1] for r in held],
                "reason": [r[2] for r in held],
                RECEIVED_AT.name: [r[3] for r in held],
            },
            schema=QUARANTINE_SCHEMA,
        )
        self._quarantine.commit(rows, self._processed)
        self.stats.quarantined += len(held)
