"""The lake on every catalog it is tested on (pyiceberg's SQL catalog on SQLite, MariaDB and
PostgreSQL), read back by an outside reader: plain pyiceberg in a
separate process, given only the catalog's URI and the warehouse location."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.processes import at_once
from tests.storage.lake.backends import s3_options
from tests.storage.lake.test_contract import sample, top_tracks
from tunelake.config import Settings
from tunelake.datasets import ARTISTS
from tunelake.engines.sql import SqlEngine
from tunelake.pipeline.resources import lake_of
from tunelake.storage.lake import IcebergLake, LakeError, LakeOptions, open_lake

pytestmark = pytest.mark.timeout(180)

DTS = [date(2026, 11, 25), date(2026, 11, 26)]

# What a user of another tool would run: no tunelake import, only the catalog and warehouse.
OUTSIDE_READER = """
import json, sys
from pyiceberg.catalog import load_catalog

catalog = load_catalog("tunelake", **json.loads(sys.argv[1]))
seen = {}
for namespace, name in catalog.list_tables("tunelake"):
    rows = catalog.load_table((namespace, name)).scan().to_arrow()
    first = rows.column_names[0]
    seen[name] = {"rows": rows.num_rows, "first": sorted(map(str, rows.column(first).to_pylist()))}
print(json.dumps(seen))
"""


def fill(lake: IcebergLake) -> None:
    for seed, dt in enumerate(DTS):
        lake.write_partition("top_tracks", dt, top_tracks(seed))
        lake.write_partition("artists", dt, sample(ARTISTS.schema, seed=seed))
    rejected = top_tracks(9, rows=2).append_column("reason", pa.array(["x", "y"]))
    lake.quarantine("top_tracks", DTS[0], rejected)


def outside_reader(properties: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE_READER, json.dumps(properties)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout))


def sql_view(engine: SqlEngine, name: str) -> dict[str, Any]:
    rows = engine.query(f'SELECT * FROM "{name}"')
    first = rows.column_names[0]
    return {"rows": rows.num_rows, "first": sorted(map(str, rows.column(first).to_pylist()))}


def check_outside_reader_agrees(lake: IcebergLake, properties: dict[str, str]) -> None:
    seen = outside_reader(properties)
    assert sorted(seen) == ["artists", "quarantine_top_tracks", "top_tracks"]
    engine = SqlEngine(lake)
    try:
        for name, got in seen.items():
            assert got == sql_view(engine, name), name
        assert seen["top_tracks"]["rows"] == 10 and seen["artists"]["rows"] == 8
    finally:
        engine.close()


Opener = Callable[[], tuple[IcebergLake, dict[str, str]]]


@pytest.mark.parametrize(
    ("catalog", "storage"),
    [
        pytest.param("sqlite", "local", id="sqlite-local"),
        pytest.param("mariadb", "s3", id="mariadb-s3", marks=pytest.mark.services),
        pytest.param("postgresql", "local", id="postgresql-local", marks=pytest.mark.services),
    ],
)
def test_an_sql_catalog_is_readable_by_plain_pyiceberg(
    catalog: str,
    storage: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    scratch_database: Callable[[str], str],
) -> None:
    uri = scratch_database(catalog)
    if storage == "s3":
        server = request.getfixturevalue("seaweedfs")
        options = s3_options(server, uri)
        url = f"s3://{server.bucket}/lake-{tmp_path.name[-20:].lower().replace('_', '-')}"
        s3 = {
            "s3.endpoint": server.endpoint_url,
            "s3.access-key-id": server.access_key,
            "s3.secret-access-key": server.secret_key.get_secret_value(),
        }
    else:
        options, url, s3 = LakeOptions(catalog_url=uri), str(tmp_path / "lake"), {}
    lake = open_lake(url, options)
    fill(lake)
    check_outside_reader_agrees(
        lake, {"type": "sql", "uri": uri, "warehouse": lake.store.location, **s3}
    )
    # A second tunelake on the same catalog sees the same tables (the catalog is shared state).
    again = open_lake(url, options)
    assert again.datasets() == ["artists", "top_tracks"] and again.partitions("artists") == DTS


def test_the_default_catalog_is_a_sqlite_file_in_the_lake(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    lake = lake_of(settings)
    fill(lake)
    assert (tmp_path / "home" / "lake" / "catalog.db").is_file()
    assert lake.catalog_url == f"sqlite:///{tmp_path / 'home' / 'lake' / 'catalog.db'}"
    assert (
        "mysql"
        in Settings(
            lake_url="s3://b/lake", warehouse_url="mysql+pymysql://u:pw@h/db"
        ).resolved_lake_catalog_url
    )


def test_a_dynamodb_catalog_is_refused_with_the_reason(tmp_path: Path) -> None:
    # Tried on dynalite: pyiceberg 0.12's DynamoDB catalog lists and loads tables but its
    # commit_table raises NotImplementedError, so no write could ever land.
    url = "dynamodb://iceberg?endpoint_url=http://127.0.0.1:8000&region=us-east-1"
    with pytest.raises(LakeError, match="cannot commit"):
        open_lake(str(tmp_path / "lake"), LakeOptions(catalog_url=url))


def _tables_of_a_new_catalog(url: str, catalog_url: str) -> list[str]:
    return open_lake(url, LakeOptions(catalog_url=catalog_url)).tables()


@pytest.mark.parametrize(
    "catalog",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.services),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ],
)
def test_processes_opening_a_new_catalog_at_once_all_succeed(
    catalog: str, tmp_path: Path, scratch_database: Callable[[str], str]
) -> None:
    # Dagster's backfill starts several runs on a new home at once: each creates the catalog.
    seen = at_once(_tables_of_a_new_catalog, str(tmp_path / "lake"), scratch_database(catalog))
    assert seen == [[]] * 4
