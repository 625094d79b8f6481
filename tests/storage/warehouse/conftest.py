"""Warehouse backends for the contract suite: a SQLite file, MariaDB and PostgreSQL, each in a
scratch database of the session (the `scratch_database` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tunelake.storage.warehouse import SqlWarehouse, open_warehouse
from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url
from tunelake.storage.warehouse.schema import metadata

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.services),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
]


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
