"""Warehouse backends for the contract suite, on real servers: a SQLite file, MariaDB on
127.0.0.1:3306 and PostgreSQL on 127.0.0.1:5432 (override with TUNELAKE_TEST_MYSQL_URL and
TUNELAKE_TEST_POSTGRES_URL). Each session works in databases (on PostgreSQL, schemas: a
dropped database costs a checkpoint) of its own, dropped at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import URL, make_url

from tests.conftest import port_open, service_or_skip
from tunelake.storage.warehouse import SqlWarehouse, open_warehouse
from tunelake.storage.warehouse.admin import create_database, drop_database
from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url
from tunelake.storage.warehouse.schema import metadata

SERVERS = {
    "mariadb": os.environ.get(
        "TUNELAKE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
    "postgresql": os.environ.get(
        "TUNELAKE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
}

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.services),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
]


@pytest.fixture(scope="session")
def scratch_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Creates an empty database on a backend and returns its URL; all are dropped at the end."""
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
    engine = create_warehouse_engine(parse_url(server.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_url(backend: str, scratch_database: Callable[[str], str]) -> str:
    """An empty database, never migrated."""
    return scratch_database(backend)


@pytest.fixture(scope="session")
def _migrated() -> dict[str, str]:
    return {}


@pytest.fixture
def warehouse_url(
    backend: str, scratch_database: Callable[[str], str], _migrated: dict[str, str]
) -> str:
    """A migrated warehouse with empty tables: migrated once per session, emptied per test."""
    if backend not in _migrated:
        url = scratch_database(backend)
        with SqlWarehouse(url) as warehouse:
            warehouse.migrate()
        _migrated[backend] = url
        return url
    url = _migrated[backend]
    engine = create_warehouse_engine(parse_url(url))
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            conn.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture
def open_warehouses(warehouse_url: str) -> Iterator[Callable[[], SqlWarehouse]]:
    """Opens warehouse objects on the test's database; all are closed after the test."""
    opened: list[SqlWarehouse] = []

    def open_() -> SqlWarehouse:
        opened.append(open_warehouse(warehouse_url))
        return opened[-1]

    yield open_
    for warehouse in opened:
        warehouse.close()


@pytest.fixture
def warehouse(open_warehouses: Callable[[], SqlWarehouse]) -> SqlWarehouse:
    return open_warehouses()
