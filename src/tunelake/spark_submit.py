"""The similarity stage for one dt as a Spark application: `spark-submit` this file, or run it.

    spark-submit --master spark://host:7077 --conf spark.executor.memory=4g \\
        "$(python -c 'import tunelake.spark_submit as j; print(j.__file__)')" \\
        --dt 2026-11-26 --profile services
    python -m tunelake.spark_submit --dt 2026-11-26      # local[*]

An entry point like the CLI: it calls the stage runner (tunelake.app.run_stages) for the
`similarity` stage with `similarity_engine = "spark"`, so the run is recorded (kind `spark`,
`tunelake runs` lists it), the dt's lock is held and the current-state rule kept (an older
dt's neighbours go to the lake only). It reads the dt's curated partitions from the lake
(the curate stage wrote them) and prints the transform step's record as one JSON line. A
failure is one line on stderr and the CLI's exit code for its kind (2 bad input or a missing
partition, 69 a backend down, 75 locked or transient, 1 a bug). The master is spark-submit's
`--master` (or spark-defaults.conf), else `--master`/TUNELAKE_SPARK_MASTER, else local[*].
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from tunelake import app
from tunelake.config import load_settings
from tunelake.errors import exit_code, is_expected
from tunelake.observability import configure_logging, one_line
from tunelake.pipeline.run import StageOptions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
        result = app.run_stages(
            settings, args.dt, ["similarity"], StageOptions(kind="spark", report=False)
        )
    except Exception as exc:
        if not is_expected(exc):
            raise  # a bug in tunelake: its traceback
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exit_code(exc)
    print(json.dumps(dataclasses.asdict(result.step("transform")), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
