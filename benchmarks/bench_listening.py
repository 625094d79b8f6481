"""Listening figures over a local lake holding a week of plays, each against a baseline
measured in the same process:

- an artist's plays over 7 days (`artist_plays`: read_plays of every artist's (artist_id, ts),
  then a filter) vs a pyiceberg scan that pushes `artist_id = X` down as well, before and after
  compaction (compacted days are sorted by artist_id, so file statistics can prune);
- trending (`compute_trending`: 7 days and an hour of plays read, scored) and the dashboard's
  Listening data (24 hours), vs a bare read of the same plays (`read_plays`, the floor);
- plays per artist per day (`per_artist`) vs DuckDB's GROUP BY over the same Arrow table.

    .venv/bin/python benchmarks/bench_listening.py [--plays 2000000] [--artists 2000]
        [--batches 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from pyiceberg.expressions import And, EqualTo

from bench_lake import best  # the fastest of n runs: one rule for the benchmarks
from tunelake.config import load_settings
from tunelake.engines.listening import per_artist
from tunelake.events.compact import compact_day
from tunelake.events.schema import PLAYS, STORED_SCHEMA
from tunelake.events.table import between, plays_table, read_plays
from tunelake.listening import artist_plays, compute_trending, listening
from tunelake.pipeline.resources import lake_of, serving_of

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DAYS = 7


def week_of_plays(n: int, artists: int, rng: np.random.Generator) -> pa.Table:
    """n plays over the 7 days before NOW, artists chosen by a Zipf-like popularity."""
    weights = 1 / np.arange(1, artists + 1)
    chosen = rng.choice(artists, size=n, p=weights / weights.sum())
    micros = rng.integers(0, DAYS * 86_400_000_000, size=n)
    start = NOW - timedelta(days=DAYS)
    ts = pa.array(
        np.datetime64(start.replace(tzinfo=None), "us") + micros.astype("timedelta64[us]")
    )
    columns = {
        "event_id": pa.array([f"e{i}" for i in range(n)]),
        "user_id": pa.array(np.char.add("u", (chosen % 997).astype(str))),
        "session_id": pa.array(np.char.add("s", (micros % 9_973).astype(str))),
        "track_id": pa.array(np.char.add("t", chosen.astype(str))),
        "artist_id": pa.array(np.char.add("artist-", chosen.astype(str))),
        "ts": ts.cast(pa.timestamp("us", tz="UTC")),
        "ms_played": pa.array(np.full(n, 180_000, dtype=np.int32)),
        "skipped": pa.array(np.zeros(n, dtype=bool)),
        "context": pa.array(["album"] * n),
        "device": pa.array(["mobile"] * n),
        "country": pa.array(["KR"] * n),
        "received_at": ts.cast(pa.timestamp("us", tz="UTC")),
    }
    return pa.table(columns, schema=STORED_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plays", type=int, default=2_000_000)
    parser.add_argument("--artists", type=int, default=2_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp) / "home")
        lake = lake_of(settings)
        table = plays_table(lake)
        plays = week_of_plays(args.plays, args.artists, np.random.default_rng(7))
        plays = plays.sort_by([("received_at", "ascending")])  # micro-batches arrive in time
        size = -(-plays.num_rows // args.batches)
        started = time.perf_counter()
        for offset in range(0, plays.num_rows, size):
            table.append(plays.slice(offset, size))
        print(
            f"{args.plays:,} plays of {args.artists:,} artists over {DAYS} days in "
            f"{args.batches} appends: {time.perf_counter() - started:.1f} s"
        )
        artist = "artist-50"  # mid popularity
        week = (NOW - timedelta(days=DAYS), NOW)

        def pushed_down() -> int:
            loaded = lake.load(PLAYS)
            assert loaded is not None
            row_filter = And(between(*week), EqualTo("artist_id", artist))  # type: ignore[call-arg, arg-type]
            return loaded.scan(row_filter=row_filter, selected_fields=("ts",)).to_arrow().num_rows

        def compare_artist(label: str) -> None:
            ours = best(args.repeat, lambda: artist_plays(settings, artist, *week, lake=lake))
            floor = best(args.repeat, pushed_down)
            total = artist_plays(settings, artist, *week, lake=lake).total
            assert total == pushed_down()
            print(
                f"artist_plays 7 days ({label}, {total:,} plays): {ours * 1e3:.0f} ms; "
                f"scan with artist_id pushed down {floor * 1e3:.0f} ms; ratio {ours / floor:.1f}x"
            )

        compare_artist(f"{sum(len(v) for v in lake.files(PLAYS).values())} files")
        started = time.perf_counter()
        for day in sorted(lake.files(PLAYS)):
            compact_day(lake, day)
        print(f"compaction of {DAYS + 1} days: {time.perf_counter() - started:.1f} s")
        compare_artist(f"compacted, {sum(len(v) for v in lake.files(PLAYS).values())} files")

        store = serving_of(settings)
        try:
            trend = best(args.repeat, lambda: compute_trending(settings, store, now=NOW, lake=lake))
            floor = best(
                args.repeat,
                lambda: read_plays(
                    lake, NOW - timedelta(days=DAYS, hours=1), NOW, ["artist_id", "ts"]
                ),
            )
            print(
                f"trending over 7 days + 1 hour: {trend * 1e3:.0f} ms; bare read of those "
                f"plays {floor * 1e3:.0f} ms; ratio {trend / floor:.2f}x"
            )
            page = best(args.repeat, lambda: listening(settings, now=NOW, lake=lake, store=store))
            floor = best(
                args.repeat,
                lambda: read_plays(lake, NOW - timedelta(hours=24), NOW, ["artist_id", "ts"]),
            )
            print(
                f"Listening page data (24 h): {page * 1e3:.0f} ms; bare read {floor * 1e3:.0f} ms; "
                f"ratio {page / floor:.2f}x"
            )
        finally:
            store.close()

        columns = read_plays(lake, *week, ["artist_id", "ts"])
        ours = best(args.repeat, lambda: per_artist(columns, "day"))
        sql = "SELECT artist_id, date_trunc('day', ts) AS day, count(*) FROM week GROUP BY ALL"
        con = duckdb.connect()
        con.register("week", columns)
        floor = best(args.repeat, lambda: con.sql(sql).arrow())
        print(
            f"plays per artist per day over {columns.num_rows:,} plays: per_artist "
            f"{ours * 1e3:.0f} ms; DuckDB GROUP BY {floor * 1e3:.0f} ms; ratio {ours / floor:.2f}x"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
