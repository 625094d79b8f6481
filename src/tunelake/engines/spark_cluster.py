"""What the Spark engine checks and ships when its master is a cluster, not `local[*]`.

- tunelake's own code goes with the job: the package, zipped once per process, is added with
  `SparkContext.addPyFile`, so executors run the driver's tunelake whatever is installed on
  the nodes (its dependencies, NumPy, SciPy and PyArrow, must be on the workers' Python).
- The workers' Python must be the driver's minor version (PySpark refuses otherwise, deep in
  a task's trace): one tiny job asks each executor before any work and names the fix.
- A lake on a local path is refused when the master is on another host: the executors
  would read their own disks. `file:///…` says the path is a mount every node shares.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

import tunelake
from tunelake.config import ConfigError

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def is_cluster(master: str | None) -> bool:
    """master runs executors outside the driver's JVM (not local, local[N], local-cluster)."""
    return master is not None and not master.startswith("local")


def master_hosts(master: str) -> list[str]:
    """The hosts of a spark:// URL (several for a standby-masters URL); [] for others."""
    if not master.startswith("spark://"):
        return []
    return [urlsplit(f"spark://{part}").hostname or "" for part in master[8:].split(",")]


def on_one_host(master: str | None) -> bool:
    """Every executor runs on this machine: local modes, a loopback standalone master."""
    if master is None or not is_cluster(master):
        return True
    hosts = master_hosts(master)
    return bool(hosts) and all(host in LOOPBACK for host in hosts)


def check_lake_reach(master: str | None, lake_url: str) -> None:
    """Refuse a lake on this machine's disk when executors may run on other machines."""
    if "://" in lake_url or on_one_host(master):
        return
    raise ConfigError(
        f"the lake {lake_url} is a local path and the Spark master {master} runs executors on "
        "other machines, which would not see it: put the lake on S3 (TUNELAKE_LAKE_URL=s3://…) "
        f"or, when every node mounts it at the same path, write it file://{lake_url}"
    )


@functools.cache
def package_zip() -> Path:
    """tunelake's package as a zip for the executors' sys.path (built once per process)."""
    root = Path(tunelake.__file__).parent
    target = Path(tempfile.mkdtemp(prefix="tunelake-pyfiles-")) / "tunelake.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, Path("tunelake") / path.relative_to(root))
    return target


def _python_version(_: object) -> tuple[int, int]:
    return sys.version_info[0], sys.version_info[1]


def prepare(spark: SparkSession) -> None:
    """Ship tunelake to the executors and check their Python against the driver's."""
    context = spark.sparkContext
    context.addPyFile(str(package_zip()))
    driver = _python_version(None)
    slots = max(2, context.defaultParallelism)
    try:
        found = set(
            context.parallelize(range(slots), slots).map(_python_version).distinct().collect()
        )
    except (PySparkException, Py4JJavaError) as exc:
        raise ConfigError(
            f"the Spark executors could not run Python {driver[0]}.{driver[1]} for tunelake "
            f"({_first_line(exc)}): set spark.pyspark.python (or PYSPARK_PYTHON) to a Python "
            f"{driver[0]}.{driver[1]} with numpy, scipy and pyarrow on every worker"
        ) from None
    other = sorted(v for v in found if v != driver)
    if other:
        raise ConfigError(
            f"the Spark workers run Python {', '.join(f'{a}.{b}' for a, b in other)}, the "
            f"driver {driver[0]}.{driver[1]}: set spark.pyspark.python to a Python "
            f"{driver[0]}.{driver[1]} on every worker"
        )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "java_exception", exc)).strip()
    lines = [line for line in text.splitlines() if "Error" in line or "error" in line]
    return (lines or text.splitlines() or [type(exc).__name__])[0][:300]
