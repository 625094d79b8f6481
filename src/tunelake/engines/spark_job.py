"""The transform for one dt as a Spark application: `spark-submit` this file, or run it.

    spark-submit --master spark://host:7077 --conf spark.executor.memory=4g \\
        "$(python -c 'import tunelake.engines.spark_job as j; print(j.__file__)')" \\
        --dt 2026-11-26 --profile services
    python -m tunelake.engines.spark_job --dt 2026-11-26      # local[*]

It reads the dt's top_tracks and audio_features from the profile's lake (the load step
wrote them), computes artist_vectors and related_artists on Spark, writes both to the lake
and replaces the warehouse's related_artists, as the pipeline's transform step does with
`similarity_engine = "spark"`; it prints the step's record as one JSON line. The master is
spark-submit's `--master` (or spark-defaults.conf), else `--master`/TUNELAKE_SPARK_MASTER,
else local[*].
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from tunelake.config import load_settings
from tunelake.engines.spark import MissingPartition, session
from tunelake.errors import TunelakeError
from tunelake.observability import StepRecord, configure_logging
from tunelake.pipeline import steps
from tunelake.pipeline.resources import open_resources


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dt", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    parser.add_argument("--profile", help="profile of tunelake.toml")
    parser.add_argument("--home", type=Path, help="data directory")
    parser.add_argument("--master", help="Spark master URL when not given by spark-submit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            home=args.home,
            profile=args.profile,
            similarity_engine="spark",
            spark_master=args.master,
        )
        configure_logging(settings.logs_dir)
        session(settings.spark_master)
        with open_resources(settings) as res:
            tables = {}
            for name in ("artists", "tracks", "top_tracks", "audio_features"):
                table = res.lake.read_partition(name, args.dt)
                if table is None:
                    raise MissingPartition(f"the lake has no {name} partition for dt {args.dt}")
                tables[name] = table
            step = StepRecord("transform")
            steps.transform(res, args.dt, steps.Curated(**tables), step)
    except TunelakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    step.status = "ok"
    print(json.dumps(dataclasses.asdict(step), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
