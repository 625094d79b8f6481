"""Lake and SQL-engine figures on a local folder and on S3 (a SeaweedFS started here), each
against a baseline measured in the same process:

- write: the first `write_partition` of a 50,000-row partition (creates the Iceberg table,
  writes, commits) and its overwrite (one commit replacing the dt) vs a bare `pq.write_table`
  of the same table to the same filesystem;
- read: `read_partition` (catalog, metadata, manifests, then files) vs a bare `pq.read_table`;
- overwrite latency of a small partition (what a per-artist rerun costs);
- SQL: the course's per-artist averages on the DuckDB views vs the same answer computed with
  pyarrow (`read_dataset`, join, group_by);
- SeaweedFS start-up and stop times;
- with `--baseline-tunelake PATH` (the `tunelake` of another checkout, e.g. the commit before
  the Iceberg lake): `tunelake run` wall time of that one and of this one, one after the other
  on fresh data directories, best of `--runs`.

    .venv/bin/python benchmarks/bench_lake.py [--artists 5000] [--days 7] [--repeat 5]
        [--baseline-tunelake /path/to/old/.venv/bin/tunelake --runs 2]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import SecretStr

from tunelake.datasets import AUDIO_FEATURES, TOP_TRACKS
from tunelake.engines.sql import SqlEngine
from tunelake.localservices.seaweedfs import SeaweedFS, start_seaweedfs
from tunelake.storage.lake import IcebergLake, LakeOptions, S3Options, open_lake

FIRST_DAY = date(2026, 11, 1)
PER_ARTIST = """
    SELECT t.artist_id, AVG(a.danceability) AS danceability, AVG(a.energy) AS energy,
           AVG(a.tempo) AS tempo
    FROM top_tracks t JOIN audio_features a ON t.track_id = a.track_id AND t.dt = a.dt
    WHERE t.dt = (SELECT MAX(dt) FROM top_tracks) GROUP BY t.artist_id
"""


def best(repeat: int, run: Callable[[], Any]) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def day_tables(artists: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """One day's top tracks (10 per artist) and their audio features."""
    rng = random.Random(seed)
    artist_ids = [f"artist{i:06d}" for i in range(artists)]
    track_ids = [f"{a}-track{r}" for a in artist_ids for r in range(10)]
    top = pa.table(
        {
            "artist_id": [a for a in artist_ids for _ in range(10)],
            "track_id": track_ids,
            "rank": [r for _ in artist_ids for r in range(1, 11)],
        },
        schema=TOP_TRACKS.schema,
    )
    n = len(track_ids)
    columns: dict[str, Any] = {f.name: pa.nulls(n, f.type) for f in AUDIO_FEATURES.schema}
    columns |= {
        "track_id": track_ids,
        "source": ["spotify"] * n,
        "danceability": [rng.random() for _ in range(n)],
        "energy": [rng.random() for _ in range(n)],
        "tempo": [rng.uniform(60, 200) for _ in range(n)],
        "key": pa.array([rng.randrange(12) for _ in range(n)], pa.int16()),
    }
    return top, pa.table(columns, schema=AUDIO_FEATURES.schema)


def bench_backend(name: str, lake: IcebergLake, args: argparse.Namespace) -> None:
    top, features = day_tables(args.artists, seed=1)
    fs = lake.store.arrow_fs
    bare = lake.store.join("_bench", "bare.parquet")
    lake.store.fs.makedirs(lake.store.join("_bench"), exist_ok=True)
    rows = features.num_rows

    first = best(1, lambda: lake.write_partition("audio_features", FIRST_DAY, features))
    write = best(args.repeat, lambda: lake.write_partition("audio_features", FIRST_DAY, features))
    write_base = best(
        args.repeat, lambda: pq.write_table(features, bare, filesystem=fs, compression="zstd")
    )
    read = best(args.repeat, lambda: lake.read_partition("audio_features", FIRST_DAY))
    read_base = best(args.repeat, lambda: pq.read_table(bare, filesystem=fs, partitioning=None))
    small = top.slice(0, 10)
    overwrite = best(args.repeat * 4, lambda: lake.write_partition("top_tracks", FIRST_DAY, small))
    print(f"[{name}] audio_features partition, {rows:,} rows")
    print(
        f"  first write     {first * 1e3:8.1f} ms  bare write {write_base * 1e3:8.1f} ms"
        f"  ratio {first / write_base:5.2f}x"
    )
    print(
        f"  overwrite       {write * 1e3:8.1f} ms  bare write {write_base * 1e3:8.1f} ms"
        f"  ratio {write / write_base:5.2f}x"
    )
    print(
        f"  read_partition  {read * 1e3:8.1f} ms  bare read  {read_base * 1e3:8.1f} ms"
        f"  ratio {read / read_base:5.2f}x"
    )
    print(f"  overwrite of a 10-row partition: {overwrite * 1e3:.1f} ms")

    for day in range(args.days):
        top_day, features_day = day_tables(args.artists, seed=day)
        lake.write_partition("top_tracks", FIRST_DAY + timedelta(days=day), top_day)
        lake.write_partition("audio_features", FIRST_DAY + timedelta(days=day), features_day)
    build = best(1, lambda: SqlEngine(lake).close())
    engine = SqlEngine(lake)

    def with_pyarrow() -> pa.Table:
        latest = max(lake.partitions("top_tracks"))
        tops = lake.read_dataset("top_tracks", [latest])
        feats = lake.read_dataset("audio_features", [latest])
        joined = tops.join(feats, ["track_id", "dt"], join_type="inner")
        return joined.group_by("artist_id").aggregate(
            [("danceability", "mean"), ("energy", "mean"), ("tempo", "mean")]
        )

    sql = best(args.repeat, lambda: engine.query(PER_ARTIST))
    base = best(args.repeat, with_pyarrow)
    assert engine.query(PER_ARTIST).num_rows == with_pyarrow().num_rows == args.artists
    engine.close()
    print(
        f"  SQL per-artist averages over {args.days} days: DuckDB {sql * 1e3:8.1f} ms  "
        f"pyarrow {base * 1e3:8.1f} ms  ratio {sql / base:5.2f}x  (views built in "
        f"{build * 1e3:.1f} ms)"
    )


def bench_seaweedfs(data_dir: Path, repeat: int) -> SeaweedFS:
    starts, stops = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        server = start_seaweedfs(data_dir)
        starts.append(time.perf_counter() - start)
        start = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - start)
    print(
        f"[seaweedfs] start (until a signed CreateBucket succeeds): median "
        f"{statistics.median(starts):.2f} s, min {min(starts):.2f} s; stop: median "
        f"{statistics.median(stops):.2f} s"
    )
    return start_seaweedfs(data_dir)


def run_wall(tunelake: str, home: Path) -> float:
    """Wall time of `tunelake run` on the default catalog in a fresh data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAKE_")}
    home.parent.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        [tunelake, "run", "--home", str(home), "--dt", FIRST_DAY.isoformat()],
        check=True,
        env=env,
        cwd=home.parent,  # no tunelake.toml there: the embedded defaults
        capture_output=True,
    )
    return time.perf_counter() - start


def bench_run(baseline: str, runs: int, tmp: Path) -> None:
    this = str(Path(sys.executable).with_name("tunelake"))
    walls: dict[str, list[float]] = {"baseline": [], "this": []}
    for i in range(runs):  # alternate, so a load spike from other users hits both alike
        for label, command in (("baseline", baseline), ("this", this)):
            walls[label].append(run_wall(command, tmp / f"run-{label}-{i}" / "home"))
    old, new = min(walls["baseline"]), min(walls["this"])
    print(
        f"[run] tunelake run, default catalog, best of {runs}: baseline {old:.2f} s, "
        f"this {new:.2f} s, ratio {new / old:.2f}x (all: {walls})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", type=int, default=5000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-tunelake", help="the tunelake command to compare runs with")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as tmp:
        bench_backend("local", open_lake(f"{tmp}/lake"), args)
        with bench_seaweedfs(Path(tmp) / "seaweedfs", args.repeat) as server:
            options = LakeOptions(
                catalog_url=f"sqlite:///{tmp}/s3-catalog.db",
                s3=S3Options(
                    endpoint_url=server.endpoint_url,
                    access_key_id=SecretStr(server.access_key),
                    secret_access_key=server.secret_key,
                ),
            )
            lake = open_lake(f"s3://{server.bucket}/lake", options)
            bench_backend("s3", lake, args)
        if args.baseline_tunelake:
            bench_run(args.baseline_tunelake, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
