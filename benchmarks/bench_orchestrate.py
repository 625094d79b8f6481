"""What running the pipeline on Dagster costs, against `tunelake run` measured in the same
process, for one dt on the default catalog (1,000 artists), each on a fresh data directory:

- baseline: `tunelake run` (app.run: the six steps in one process, inputs in memory), and
  the `tunelake run` command in a process of its own;
- Dagster in-process: every asset and check of the partition with `materialize` (one process,
  each asset reading its inputs back from the lake, each check reading the lake);
- Dagster daemon path: the `daily` job as the daemon's run launcher runs a schedule's,
  sensor's or UI backfill's run: a new process that loads the code location and executes the
  job with its executor (the in-process executor the definitions choose), on an instance on
  disk (`dagster job execute`);
- optionally (--multiprocess) the same job with Dagster's multiprocess executor (a process
  per step: the figure before the definitions chose the in-process one).

Targets: in-process Dagster within 1.3x of `tunelake run`; the daemon path within 1.5x of
the `tunelake run` command (a process each: imports and start-up count on both sides; the
ratio to app.run in this process is printed too).

Measured 2026-12-05/06, 1,000 artists, 2 cores shared with other jobs (load average ~3):
app.run 17.2 s / 17.0 s; Dagster in-process 23.6 s (1.38x) / 21.1 s (1.24x); the command
20.2 s / 28.0 s; daemon path 24.0 s (1.19x the command, 1.40x app.run) / 40.9 s (1.46x,
2.41x) — the daemon path swings most with load (its event log writes to the instance's
SQLite, and its run worker imports and loads the code location). The previous figures,
under a load of 8.5: app.run 61.7 s, daemon path 118.3 s (1.92x), a process per step
135.2 s (2.19x).

    .venv/bin/python benchmarks/bench_orchestrate.py [--artists 1000] [--repeat 1] [--multiprocess]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from tunelake import app
from tunelake.config import load_settings
from tunelake.orchestration.assets import ASSETS
from tunelake.orchestration.checks import CHECKS
from tunelake.orchestration.definitions import defs
from tunelake.orchestration.resources import TunelakeResource

DT = date(2026, 11, 26)
warnings.filterwarnings("ignore")  # Dagster's preview/beta notices


def multiprocess_job() -> dg.JobDefinition:
    """The daily job with a process per step (reconstructable: the processes import it)."""
    job = defs.get_job_def("daily")
    return job.with_executor_def(dg.multiprocess_executor)


def timed(run: Callable[[Path], Any], repeat: int) -> float:
    """The fastest of `repeat` runs, each on a fresh data directory."""
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "home"
            start = time.perf_counter()
            run(home)
            times.append(time.perf_counter() - start)
    return min(times)


def tunelake_run(home: Path) -> None:
    assert app.run(load_settings(home=home), dt=DT).ok


def tunelake_command(home: Path) -> None:
    """`tunelake run` as a user (or cron) runs it: a new process, imports included, as the
    daemon path's run worker is."""
    command = [sys.executable, "-m", "tunelake", "run", "--home", str(home)]
    done = subprocess.run(
        [*command, "--dt", DT.isoformat()], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def in_process(home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*ASSETS, *CHECKS],
            partition_key=DT.isoformat(),
            instance=instance,
            resources={"tunelake": TunelakeResource(home=str(home))},
        )
    assert result.success


def daemon_path(home: Path) -> None:
    """A run of the daily job in a process of its own, as the run launcher starts it."""
    instance = home.parent / "dagster"
    instance.mkdir()
    (instance / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    command = [sys.executable, "-m", "dagster", "job", "execute"]
    command += ["-m", "tunelake.orchestration.definitions", "-j", "daily"]
    command += ["--tags", json.dumps({"dagster/partition": DT.isoformat()})]
    env = {**os.environ, "TUNELAKE_HOME": str(home), "DAGSTER_HOME": str(instance)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (home / "serving.db").is_file()


def multiprocess(home: Path) -> None:
    os.environ["TUNELAKE_HOME"] = str(home)  # the step processes read the data directory here
    # the multiprocess executor needs an instance on disk, which its processes open
    (home.parent / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(home.parent / "dagster")) as instance:
        result = dg.execute_job(
            dg.reconstructable(multiprocess_job),
            instance=instance,
            tags={"dagster/partition": DT.isoformat()},
        )
        assert result.success
    del os.environ["TUNELAKE_HOME"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--multiprocess", action="store_true", help="also a process per step")
    args = parser.parse_args()
    os.environ["TUNELAKE_CATALOG_ARTISTS"] = str(args.artists)
    os.chdir(tempfile.mkdtemp())  # no tunelake.toml from the working directory

    load = os.getloadavg()
    print(f"one dt, catalog of {args.artists} artists, best of {args.repeat}; "
          f"load average {load[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    base = timed(tunelake_run, args.repeat)
    print(f"tunelake run (baseline)          {base:7.2f} s")
    inproc = timed(in_process, args.repeat)
    print(
        f"Dagster in-process (+10 checks)  {inproc:7.2f} s   {inproc / base:5.2f}x  (target <= 1.3x)"
    )
    command = timed(tunelake_command, args.repeat)
    print(f"tunelake run, the command        {command:7.2f} s")
    daemon = timed(daemon_path, args.repeat)
    print(
        f"Dagster daemon path (run worker) {daemon:7.2f} s   {daemon / command:5.2f}x  "
        f"(target <= 1.5x of the command; {daemon / base:.2f}x app.run)"
    )
    if args.multiprocess:
        multi = timed(multiprocess, args.repeat)
        print(f"Dagster multiprocess executor    {multi:7.2f} s   {multi / base:5.2f}x")


if __name__ == "__main__":
    main()
