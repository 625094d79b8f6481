"""`tunelake run` on the default catalog: wall time per step, first run and resumed re-run.

    .venv/bin/python benchmarks/bench_run.py [--artists 1000] [--latency-ms 0]

The first run fetches everything from the built-in catalog server; the second run of the same
dt resumes (nothing fetched again) and re-derives validate → publish from the raw zone, which
is also the cost of a backfill of one dt.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from tunelake.config import load_settings
from tunelake.observability import RunRecord
from tunelake.pipeline.run import run_pipeline


def _table(label: str, record: RunRecord, wall: float) -> None:
    print(f"\n{label}: {wall:.2f} s wall, status {record.status}")
    print(f"  {'step':<10} {'seconds':>8} {'rows in':>9} {'rows out':>9} {'quarantined':>12}")
    for s in record.steps:
        print(
            f"  {s.step:<10} {s.duration_s or 0:>8.2f} {s.rows_in:>9} {s.rows_out:>9}"
            f" {s.rows_quarantined:>12}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artists", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            home=Path(tmp) / "home",
            catalog_artists=args.artists,
            catalog_latency_ms=args.latency_ms,
        )
        dt = date.today()
        for label in ("first run", "re-run (resume)"):
            start = time.perf_counter()
            result = run_pipeline(settings, dt=dt)
            _table(label, result.record, time.perf_counter() - start)
        print("\ncounts:", ", ".join(f"{k} {v}" for k, v in result.counts.items()))


if __name__ == "__main__":
    main()
