"""Bad input and bad URLs get clear errors; the schema mirrors the datasets. Checks happen
before any SQL runs, the same for every backend, so SQLite stands in for all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pymysql
import pytest
import sqlalchemy as sa

from tunelake.datasets import ARTISTS, AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS, TRACKS
from tunelake.errors import ConfigError
from tunelake.storage.warehouse import SqlWarehouse, WarehouseUnavailable, open_warehouse
from tunelake.storage.warehouse.schema import BULK_TABLES, arrow_schema
from tunelake.storage.warehouse.sql import _ATTEMPTS

PASSWORD = "s3cret-pw"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[SqlWarehouse]:
    with open_warehouse(f"sqlite:///{tmp_path / 'nested' / 'warehouse.db'}") as warehouse:
        warehouse.migrate()
        yield warehouse


@pytest.mark.parametrize("dataset", [ARTISTS, TRACKS, TOP_TRACKS, AUDIO_FEATURES, RELATED_ARTISTS])
def test_warehouse_tables_mirror_the_datasets(dataset: Any) -> None:
    table = arrow_schema(BULK_TABLES[dataset.name])
    for field in dataset.schema:
        if field.name == "genres":  # artists' genres live in artist_genres
            continue
        assert table.field(field.name) == field
    assert [c.name for c in BULK_TABLES[dataset.name].primary_key.columns] == list(dataset.key)


def tracks(**columns: Any) -> pa.Table:
    base: dict[str, Any] = {"track_id": ["t1"], "name": ["n"], "artist_id": ["a"]}
    return pa.table({k: v for k, v in (base | columns).items() if v is not None})


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        ("songs", tracks(), r"'songs' is not a table for bulk writes; these are \['artist_genres'"),
        ("pipeline_runs", tracks(), "ingest requests and run records have their own methods"),
        ("tracks", tracks(tempo=[1.0]), r"tracks: unknown column\(s\) \['tempo'\]"),
        ("tracks", tracks(track_id=None), r"tracks: missing required column\(s\) \['track_id'\]"),
        ("tracks", tracks(track_id=[None]), "tracks.track_id is required but 1 row"),
        (
            "tracks",
            tracks(track_id=["x" * 65]),
            "tracks.track_id: a value of 65 characters exceeds the limit of 64",
        ),
        (
            "tracks",
            tracks(popularity=["high"]),
            "tracks.popularity: cannot store string values as int32",
        ),
        (
            "tracks",
            tracks(popularity=[2**40]),
            "tracks.popularity: cannot store int64 values as int32",
        ),
        (
            "audio_features",
            pa.table({"track_id": ["t"], "source": ["s"], "tempo": [float("nan")]}),
            "NaN and infinity",
        ),
        (
            "artists",
            pa.table({"artist_id": ["a"], "name": ["A"], "updated_at": [1]}),
            "artists.updated_at is set by the warehouse",
        ),
        (
            "artists",
            pa.table({"artist_id": ["a"], "name": ["A"], "genres": ["pop"]}),
            "artists.genres must be a list of strings",
        ),
        (
            "artists",
            pa.table({"artist_id": ["a"], "name": ["A"], "genres": [[None]]}),
            "artist_genres.genre is required",
        ),
    ],
)
def test_bad_rows_get_a_clear_error(
    warehouse: SqlWarehouse, table: str, rows: pa.Table, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        warehouse.upsert(table, rows)
    assert warehouse.count(table if table in BULK_TABLES else "tracks") == 0


def test_bad_reads_and_parents_get_a_clear_error(warehouse: SqlWarehouse) -> None:
    with pytest.raises(
        ValueError, match=r"no warehouse table 'track'; tables are \['artist_genres'"
    ):
        warehouse.read("track")
    with pytest.raises(ValueError, match="tracks has no column 'id'"):
        warehouse.read("tracks", {"id": "x"})
    with pytest.raises(ValueError, match=r"top_tracks.dt: 'yesterday' is not a date32"):
        warehouse.read("top_tracks", {"dt": "yesterday"})
    with pytest.raises(ValueError, match="top_tracks has no column 'artist' to group children by"):
        warehouse.replace_children("top_tracks", "artist", pa.table({"artist_id": ["a"]}))


def test_bad_ingest_requests_and_run_records_get_a_clear_error(warehouse: SqlWarehouse) -> None:
    with pytest.raises(ValueError, match="not one string"):
        warehouse.add_ingest_requests("Blur", source="cli")
    with pytest.raises(ValueError, match="non-empty artist name or id"):
        warehouse.add_ingest_requests(["Blur", "  "], source="cli")
    with pytest.raises(ValueError, match="over 512 characters"):
        warehouse.add_ingest_requests(["x" * 513], source="cli")
    assert warehouse.pending_ingest_requests() == []
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['rows'\]"):
        warehouse.record_run({"run_id": "r", "step": "s", "status": "ok", "rows": 3})
    with pytest.raises(ValueError, match=r"\['status'\] must be given"):
        warehouse.record_run({"run_id": "r", "step": "s"})
    with pytest.raises(ValueError, match="details is not JSON text"):
        warehouse.record_run({"run_id": "r", "step": "s", "status": "ok", "details": "{oops"})
    with pytest.raises(ValueError, match="limit must be at least 1"):
        warehouse.runs(0)
    assert warehouse.runs() == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            f"not a url :{PASSWORD}@",
            "TUNELAKE_WAREHOUSE_URL is not a database URL .* like sqlite:///",
        ),
        (
            f"oracle+cx://scott:{PASSWORD}@db/x",
            r"TUNELAKE_WAREHOUSE_URL oracle\+cx://scott:\*\*\*@db/x: unsupported database "
            "'oracle'; supported: SQLite, MariaDB/MySQL and PostgreSQL",
        ),
        (
            "mysql+mysqldb://root@127.0.0.1/test",
            r"driver 'mysqldb' is not supported for mysql: use mysql\+pymysql://",
        ),
        ("postgresql+psycopg2://u@h/db", r"use postgresql\+psycopg://"),
        # silently dropped by SQLAlchemy's SQLite dialect
        ("sqlite:///x.db?ssl_ca=/nope", "unknown query option.* ssl_ca for sqlite; known: uri"),
        # a traceback from PyMySQL / libpq's "invalid connection option" at the first connection
        (f"mysql+pymysql://u:{PASSWORD}@h/db?foo=1", "unknown query option.* foo for mysql"),
        (f"postgresql://u:{PASSWORD}@h/db?foo=1", "unknown query option.* foo for postgresql"),
        (f"mysql+pymysql://u:{PASSWORD}@h/db?ssl_ca=/nope", "ssl_ca=/nope: no such file"),
        (f"postgresql://u:{PASSWORD}@h/db?sslrootcert=/nope", "sslrootcert=/nope: no such file"),
    ],
)
def test_unusable_urls_are_a_config_error_naming_the_setting(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        open_warehouse(url)
    assert PASSWORD not in str(raised.value)


def test_known_options_and_files_pass(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    for url in (
        f"sqlite:///{tmp_path}/w.db?timeout=3",
        f"sqlite:///file:{tmp_path}/w.db?uri=true&mode=rwc",
        f"mysql+pymysql://u@h/db?ssl_ca={ca}&charset=utf8mb4",
        f"postgresql://u@h/db?sslmode=verify-full&sslrootcert={ca}",
    ):
        open_warehouse(url).close()


@pytest.mark.parametrize(
    "url",
    [
        f"mysql+pymysql://tunelake:{PASSWORD}@127.0.0.1:1/warehouse",
        f"postgresql+psycopg://tunelake:{PASSWORD}@127.0.0.1:1/warehouse",
        f"postgresql://tunelake:{PASSWORD}@127.0.0.1:1/warehouse",
    ],
)
def test_an_unreachable_warehouse_is_named_with_its_password_masked(url: str) -> None:
    warehouse = open_warehouse(url)
    assert PASSWORD not in repr(warehouse) and PASSWORD not in warehouse.url
    with pytest.raises(WarehouseUnavailable) as raised:
        warehouse.count("artists")
    message = str(raised.value)
    assert message.startswith(f"warehouse {warehouse.url} is unavailable: ")
    assert "tunelake:***@127.0.0.1:1/warehouse" in message
    assert "refused" in message.lower()
    assert PASSWORD not in message
    warehouse.close()


def test_a_one_letter_password_is_masked_as_a_word_not_in_words() -> None:
    warehouse = open_warehouse("postgresql+psycopg://tunelake:e@127.0.0.1:1/warehouse")
    with pytest.raises(WarehouseUnavailable, match="refused") as raised:
        warehouse.count("artists")
    assert "tunelake:***@127.0.0.1:1" in str(raised.value) and "***" not in str(
        raised.value
    ).replace("tunelake:***@", "")
    warehouse.close()


@pytest.mark.parametrize(
    "deadlock",
    [
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
    ],
    ids=["mysql", "postgresql"],
)
def test_a_deadlock_victim_runs_its_transaction_once_more(
    warehouse: SqlWarehouse, deadlock: Exception
) -> None:
    attempts: list[int] = []

    def work(conn: sa.Connection, fail_times: int) -> int:
        attempts.append(1)
        if len(attempts) <= fail_times:
            raise sa.exc.OperationalError("INSERT …", {}, deadlock)
        return int(conn.exec_driver_sql("SELECT 1").scalar_one())

    assert warehouse._transact(lambda conn: work(conn, fail_times=1)) == 1
    assert len(attempts) == 2
    attempts.clear()
    with pytest.raises(sa.exc.OperationalError, match="eadlock"):
        warehouse._transact(lambda conn: work(conn, fail_times=_ATTEMPTS))
    assert len(attempts) == _ATTEMPTS


def test_other_database_errors_are_not_retried(warehouse: SqlWarehouse) -> None:
    attempts: list[int] = []

    def work(conn: sa.Connection) -> None:
        attempts.append(1)
        raise sa.exc.OperationalError("INSERT …", {}, pymysql.err.OperationalError(1205, "timeout"))

    with pytest.raises(sa.exc.OperationalError, match="timeout"):
        warehouse._transact(work)
    assert attempts == [1]
