"""Shared test helpers.

Tests that need a real server ask `service_or_skip`: without TUNELAKE_REQUIRE_SERVICES=1 a
missing server skips the test with the reason; with it (as .ci/run sets) the test fails.
The `seaweedfs` (S3) and `dynalite` (DynamoDB) fixtures start such a server once per session;
`scratch_database` makes throw-away databases on MariaDB and PostgreSQL.
"""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

import pytest
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tunelake.localservices.dynalite import Dynalite
    from tunelake.localservices.seaweedfs import SeaweedFS
    from tunelake.localservices.spark_cluster import SparkCluster

REQUIRE_SERVICES = os.environ.get("TUNELAKE_REQUIRE_SERVICES") == "1"

T = TypeVar("T")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def service_or_skip(name: str, available: bool, fix: str) -> None:
    """Skip (or, when services are required, fail) a test whose service is not there."""
    if available:
        return
    message = f"{name} is not reachable: {fix}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def start_or_skip(name: str, start: Callable[[], T]) -> T:
    """start() or, when the local server cannot be installed or started, service_or_skip."""
    from tunelake.localservices.process import ServiceError

    try:
        return start()
    except ServiceError as exc:
        service_or_skip(name, False, str(exc))
        raise  # not reached: service_or_skip skipped or failed the test


# Servers started once per session, for any test that needs S3 or DynamoDB. The launchers are
# imported inside the fixtures: boto3 would slow the start of every test run otherwise.


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One S3 server (SeaweedFS) per test session. A module that imports this fixture gets its
    own instance of it, which attaches to the server the first instance started."""
    from tunelake.localservices.seaweedfs import attach_seaweedfs, start_seaweedfs

    data_dir = tmp_path_factory.getbasetemp() / "seaweedfs"
    running = attach_seaweedfs(data_dir)
    if running is not None:
        yield running
        return
    with start_or_skip(
        "SeaweedFS (an S3-compatible server)", lambda: start_seaweedfs(data_dir)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def dynalite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dynalite]:
    """One DynamoDB-compatible server (dynalite, in memory) per test session."""
    from tunelake.localservices.dynalite import start_dynalite

    data_dir = tmp_path_factory.mktemp("dynalite")
    with start_or_skip(
        "dynalite (a DynamoDB-compatible server)",
        lambda: start_dynalite(data_dir, in_memory=True),
    ) as server:
        yield server


def spark_module(name: str) -> ModuleType:
    """Import a module that needs the `spark` extra. Without the extra, the test module is
    skipped, or fails when services are required (as in CI, which installs the extra)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        message = f"{exc.name} is not installed: pip install -e '.[spark]'"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session (two cores, few shuffle partitions, UI off, quiet) for every
    test that uses Spark."""
    spark = spark_module("tunelake.engines.spark").session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A Spark standalone cluster on loopback (a master, two workers of one core and 1 GB
    each) shared by the tests of a module, stopped with its executors afterwards."""
    spark_module("pyspark")
    from tunelake.localservices.spark_cluster import spark_cluster

    def start() -> SparkCluster:
        return stack.enter_context(spark_cluster(tmp_path_factory.mktemp("spark-cluster")))

    with ExitStack() as stack:
        yield start_or_skip("a Spark standalone cluster", start)


# Scratch databases on the machine's servers: MariaDB on 127.0.0.1:3306 and PostgreSQL on
# 127.0.0.1:5432 (override with TUNELAKE_TEST_MYSQL_URL and TUNELAKE_TEST_POSTGRES_URL). Each
# session works in databases (on PostgreSQL, schemas: a dropped database costs a checkpoint)
# of its own, dropped at the end.

SERVERS = {
    "mariadb": os.environ.get(
        "TUNELAKE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
    "postgresql": os.environ.get(
        "TUNELAKE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
}


@pytest.fixture(scope="session")
def scratch_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Creates an empty database on a backend and returns its URL; all are dropped at the end."""
    from tunelake.storage.warehouse.admin import create_database, drop_database

    cleanups: list[Callable[[], None]] = []

    def make(backend: str) -> str:
        name = f"tunelake_test_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('warehouse') / name}.db"
        server = make_url(SERVERS[backend])
        host, port = server.host or "127.0.0.1", server.port or 0
        service_or_skip(backend, port_open(host, port), f"start {backend} on {host}:{port}")
        if backend == "postgresql":
            _on(server, f"CREATE SCHEMA {name}")
            cleanups.append(lambda: _on(server, f"DROP SCHEMA {name} CASCADE"))
            url = server.update_query_dict({"options": f"-csearch_path={name}"})
        else:
            url = server.set(database=name)
            create_database(url.render_as_string(hide_password=False))
            cleanups.append(lambda: drop_database(url.render_as_string(hide_password=False)))
        return url.render_as_string(hide_password=False)

    yield make
    for cleanup in cleanups:
        cleanup()


def _on(server: URL, statement: str) -> None:
    from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url

    engine = create_warehouse_engine(parse_url(server.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


REDIS_EVENTS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_events_stream() -> Iterator[str]:
    """An events stream of its own on the machine's Redis (Redis Streams: the broker the
    listening tests drive end to end), deleted afterwards."""
    service_or_skip("Redis", port_open("127.0.0.1", 6379), "start redis-server on :6379")
    import redis

    stream = f"tunelake-test-{uuid.uuid4().hex[:12]}"
    yield stream
    client = redis.Redis.from_url(REDIS_EVENTS)
    client.delete(stream)
    client.close()
