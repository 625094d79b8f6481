"""`tunelake doctor`: is every backend of the active profile reachable, and if not, what fixes it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunelake.config import Settings
from tunelake.errors import BackendUnavailable, NotFound, UserError
from tunelake.observability import one_line
from tunelake.pipeline.resources import reading_lake, reading_serving, reading_warehouse
from tunelake.redact import mask_url
from tunelake.sources.dump import DumpSpec, read_dump


@dataclass(frozen=True)
class Check:
    role: str
    target: str
    ok: bool
    detail: str
    fix: str = ""
    misconfigured: bool = False
    """The setting itself cannot be used (the detail says how to fix it), whether or not
    the backend runs."""


_NOT_YET = "reachable; no tables yet (the first `tunelake run` creates them)"


def _warehouse(settings: Settings) -> str:
    try:
        with reading_warehouse(settings) as warehouse:
            if warehouse.schema_revision() is None:
                return _NOT_YET
            return f"{warehouse.count('artists')} artists"
    except NotFound:  # the embedded file: created by the first run
        return _NOT_YET


def _lake(settings: Settings) -> str:
    try:
        lake = reading_lake(settings)
    except NotFound:  # the embedded folder: created by the first run, not by a check
        return _NOT_YET
    return f"{len(lake.partitions('artists'))} artists partitions"


def _serving(settings: Settings) -> str:
    try:
        with reading_serving(settings) as store:
            return f"{store.count()} documents"
    except NotFound:
        return _NOT_YET


def _source(settings: Settings) -> str:
    if settings.source == "catalog":
        return f"built-in catalog server ({settings.catalog_artists} artists, {settings.catalog_profile})"
    if settings.source == "spotify":
        if settings.spotify_client_id is None or settings.spotify_client_secret is None:
            raise RuntimeError("no Spotify credentials")
        return f"Spotify Web API at {settings.spotify_api_url} (credentials set)"
    dump, columns = read_dump(DumpSpec.parse(settings.source))
    ignored = f", {len(columns.ignored)} column(s) ignored" if columns.ignored else ""
    return f"dataset dump with {dump.table.num_rows} rows{ignored}"


_FIXES: dict[str, Callable[[Settings], str]] = {
    "warehouse": lambda s: (
        "start the database (PostgreSQL/MariaDB) or set TUNELAKE_WAREHOUSE_URL to a reachable SQLAlchemy URL"
    ),
    "lake": lambda s: (
        "run `tunelake services up` (SeaweedFS) or set TUNELAKE_LAKE_URL / TUNELAKE_S3_ENDPOINT_URL"
        if (s.lake_url or "").startswith("s3://")
        else f"make {Path(s.resolved_lake_url)} writable"
    ),
    "serving": lambda s: (
        "start Redis, run `tunelake services up` (dynalite) or set TUNELAKE_SERVING_URL"
    ),
    "source": lambda s: (
        "set TUNELAKE_SPOTIFY_CLIENT_ID and TUNELAKE_SPOTIFY_CLIENT_SECRET (environment or TUNELAKE_SECRETS_FILE)"
        if s.source == "spotify"
        else "check the path given with --source file:PATH"
    ),
}


ROLES = ("warehouse", "lake", "serving", "source")


def diagnose(settings: Settings, roles: tuple[str, ...] = ROLES) -> list[Check]:
    """A check per role (every role by default), and Spark's when it is the engine."""
    checks = _backends(settings, roles)
    if settings.similarity_engine == "spark" and roles == ROLES:
        checks += spark_checks(settings)
    return checks


def _backends(settings: Settings, roles: tuple[str, ...]) -> list[Check]:
    probes: dict[str, tuple[str, Callable[[Settings], str]]] = {
        "warehouse": (settings.resolved_warehouse_url, _warehouse),
        "lake": (settings.resolved_lake_url, _lake),
        "serving": (settings.resolved_serving_url, _serving),
        "source": (settings.source, _source),
    }
    checks = []
    for role, (target, probe) in probes.items():
        if role not in roles:
            continue
        try:
            detail = probe(settings)
        except Exception as exc:  # every failure is a finding here, not a crash
            if isinstance(exc, UserError) and not isinstance(exc, BackendUnavailable):
                # a bad URL, a damaged catalog: its message names the fix, not "start it"
                checks.append(Check(role, mask_url(target), False, str(exc), misconfigured=True))
            else:
                checks.append(
                    Check(role, mask_url(target), False, one_line(exc), _FIXES[role](settings))
                )
        else:
            checks.append(Check(role, mask_url(target), True, detail))
    return checks


# Spark: each check needs the ones before it, so the first failure ends the list.

_SPARK_FIX = "set TUNELAKE_SPARK_MASTER (or --spark-master) to a reachable master"


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise RuntimeError("no java on PATH and no JAVA_HOME")
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    return (shown.stderr or shown.stdout).splitlines()[0]


def _pyspark() -> str:
    if importlib.util.find_spec("pyspark") is None:
        raise RuntimeError("pyspark is not installed")
    from pyspark import __version__

    return f"pyspark {__version__}"


def _master(settings: Settings) -> str:

    master = settings.spark_master
    if master is None:
        return "none set: spark-defaults.conf's, else local[*] (executors in the driver's JVM)"
    if not master.startswith("spark://"):
        return f"{master}: not probed (only spark:// masters are)"
    for part in master[len("spark://") :].split(","):
        host, _, port = part.rpartition(":")
        with socket.create_connection((host.strip("[]"), int(port or 7077)), timeout=3):
            pass
    return f"{master} accepts connections"


def _executors(settings: Settings) -> str:
    """A Spark session on the master: tunelake shipped, the executors' Python and the lake's
    reach checked as a run does (`engines.spark.session`, `check_storage`)."""
    from tunelake.engines.spark import check_storage, session
    from tunelake.engines.spark_cluster import check_lake_reach

    check_lake_reach(settings.spark_master, settings.resolved_lake_url)  # before a slow start
    spark = session(settings.spark_master)
    try:
        check_storage(spark, settings.resolved_lake_url)
        context = spark.sparkContext
        executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1  # type: ignore[union-attr]
        where = f"{executors} executor(s)" if executors > 0 else "in the driver"
        return f"{context.master}: Python {context.pythonVer} runs tunelake {where}; lake reachable"
    finally:
        spark.stop()


def spark_checks(settings: Settings) -> list[Check]:
    """Java, pyspark, the master, then the executors (a session: the slow one)."""
    master = settings.spark_master or "default"
    probes: list[tuple[str, str, Callable[[], str], str]] = [
        ("java", "java", _java, "install Java 17 or 21 and set JAVA_HOME"),
        ("pyspark", "python", _pyspark, "pip install -e '.[spark]'"),
        ("spark", master, lambda: _master(settings), _SPARK_FIX),
        (
            "executors",
            master,
            lambda: _executors(settings),
            "see README, On a cluster: the workers' Python (spark.pyspark.python), the lake "
            "on a path every worker reads",
        ),
    ]
    checks = []
    for role, target, probe, fix in probes:
        try:
            checks.append(Check(role, mask_url(target), True, probe()))
        except Exception as exc:  # every failure is a finding here, not a crash
            checks.append(Check(role, mask_url(target), False, one_line(exc), fix))
            break
    return checks
