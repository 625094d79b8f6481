"""Bulk upserts, each database its fastest way. A loader works inside the caller's transaction
on rows that `rows.prepare` made (cast, one per key, sorted by key).

- SQLite (in-process, no network): the upsert statement through the driver's executemany.
- PostgreSQL and MariaDB/MySQL (a round trip costs): the rows go into a temporary staging
  table by the database's own bulk path (COPY; LOAD DATA LOCAL INFILE, or multi-row VALUES
  where the server refuses it), then one `INSERT … SELECT … ON CONFLICT / ON DUPLICATE KEY`.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
import structlog

from tunelake.storage.warehouse.rows import csv_chunks, dbapi_rows
from tunelake.storage.warehouse.schema import MYSQL_OPTIONS
from tunelake.storage.warehouse.statements import upsert_statement

log = structlog.get_logger(__name__)

#: MariaDB/MySQL errors meaning "LOAD DATA LOCAL is disabled" (server or client side).
LOCAL_INFILE_REFUSED = {1148, 3948, 4166}


class Loader(Protocol):
    def write(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None: ...

    def lock_for_replace(self, conn: sa.Connection, table: sa.Table) -> None:
        """Make a delete-then-insert of children exclusive against other writers of `table`,
        where the database would not already."""


class ExecutemanyLoader:
    """One upsert statement, all rows through the DBAPI's executemany."""

    def lock_for_replace(self, conn: sa.Connection, table: sa.Table) -> None:
        pass  # SQLite runs one writer at a time

    def write(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        stmt = upsert_statement(conn.dialect.name, table, rows.column_names)
        compiled = stmt.compile(dialect=conn.dialect)
        values = dbapi_rows(rows, table, conn.dialect, compiled.positiontup or [])
        conn.exec_driver_sql(str(compiled), values)


class StagedLoader(ABC):
    """Staging table + the database's bulk path + one INSERT … SELECT upsert."""

    def write(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        stage = _staging_table(table, rows.column_names)
        self.drop(conn, stage)
        stage.create(conn)
        self.bulk_load(conn, stage, rows)
        conn.execute(upsert_statement(conn.dialect.name, table, rows.column_names, source=stage))
        self.drop(conn, stage)

    @abstractmethod
    def bulk_load(self, conn: sa.Connection, stage: sa.Table, rows: pa.Table) -> None: ...

    @abstractmethod
    def lock_for_replace(self, conn: sa.Connection, table: sa.Table) -> None: ...

    @abstractmethod
    def drop(self, conn: sa.Connection, stage: sa.Table) -> None:
        """Drop the staging table if it is there, without ending the transaction."""


class PostgresLoader(StagedLoader):
    def lock_for_replace(self, conn: sa.Connection, table: sa.Table) -> None:
        # Under READ COMMITTED a DELETE does not see children another writer inserted after it
        # began, so two replacements of one parent could leave a mix of both sets. This mode
        # queues writers of the table and still lets readers through.
        conn.exec_driver_sql(f"LOCK TABLE {_quoted(conn, table.name)} IN SHARE ROW EXCLUSIVE MODE")

    def bulk_load(self, conn: sa.Connection, stage: sa.Table, rows: pa.Table) -> None:
        # CSV: unquoted empty is NULL, quoted "" is the empty string; Arrow quotes every string.
        sql = (
            f"COPY {_quoted(conn, stage.name)} ({_column_list(conn, rows)}) FROM STDIN (FORMAT csv)"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(sql) as copy:
            for chunk in csv_chunks(rows, pacsv.WriteOptions(include_header=False)):
                copy.write(chunk)

    def drop(self, conn: sa.Connection, stage: sa.Table) -> None:
        # pg_temp: never a permanent table of the same name
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{_quoted(conn, stage.name)}")


class MysqlLoader(StagedLoader):
    def __init__(self) -> None:
        self.local_infile = True
        """False once the server refused LOAD DATA LOCAL; later loads go straight to VALUES."""

    def lock_for_replace(self, conn: sa.Connection, table: sa.Table) -> None:
        pass  # InnoDB's DELETE reads and locks the newest committed rows, other writers' too

    def bulk_load(self, conn: sa.Connection, stage: sa.Table, rows: pa.Table) -> None:
        if self.local_infile:
            try:
                self._load_data(conn, stage, rows)
                return
            except sa.exc.DBAPIError as exc:
                if not exc.orig or exc.orig.args[0] not in LOCAL_INFILE_REFUSED:
                    raise
                self.local_infile = False
                log.warning(
                    "LOAD DATA LOCAL INFILE refused; loading by multi-row INSERT (slower)",
                    error=str(exc.orig),
                    fix="enable local_infile on the server (and do not set local_infile=0 in the URL)",
                )
        columns = _column_list(conn, rows)
        marks = ", ".join(["%s"] * rows.num_columns)
        # PyMySQL's executemany sends this as multi-row INSERTs, not one statement per row.
        conn.exec_driver_sql(
            f"INSERT INTO {_quoted(conn, stage.name)} ({columns}) VALUES ({marks})",
            dbapi_rows(rows, stage, conn.dialect, rows.column_names),
        )

    def _load_data(self, conn: sa.Connection, stage: sa.Table, rows: pa.Table) -> None:
        # Strings are always quoted and NULL never is, so the string "NULL" stays a string;
        # with ESCAPED BY '' a backslash is data and a doubled quote is one quote.
        as_ints = pa.table(
            {
                n: pc.cast(c, pa.int8()) if pa.types.is_boolean(c.type) else c
                for n, c in zip(rows.column_names, rows.columns, strict=True)
            }
        )
        options = pacsv.WriteOptions(include_header=False, null_string="NULL")
        with tempfile.TemporaryDirectory(prefix="tunelake-load-") as tmp:
            path = Path(tmp) / f"{stage.name}.csv"
            with path.open("wb") as sink:
                for chunk in csv_chunks(as_ints, options):
                    sink.write(chunk)
            result = conn.exec_driver_sql(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {_quoted(conn, stage.name)} "
                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
                f"ESCAPED BY '' LINES TERMINATED BY '\\n' ({_column_list(conn, rows)})",
                (str(path),),
            )
        if result.rowcount != rows.num_rows:
            raise RuntimeError(
                f"LOAD DATA read {result.rowcount} rows into {stage.name}, expected {rows.num_rows}"
            )

    def drop(self, conn: sa.Connection, stage: sa.Table) -> None:
        # TEMPORARY matters: a plain DROP TABLE commits the transaction on MySQL.
        conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {_quoted(conn, stage.name)}")


def loader_for(dialect_name: str) -> Loader:
    if dialect_name == "postgresql":
        return PostgresLoader()
    if dialect_name in ("mysql", "mariadb"):
        return MysqlLoader()
    return ExecutemanyLoader()


def _staging_table(table: sa.Table, columns: list[str]) -> sa.Table:
    return sa.Table(
        f"tunelake_stage_{table.name}",
        sa.MetaData(),
        *(sa.Column(c, table.c[c].type) for c in columns),
        prefixes=["TEMPORARY"],
        **MYSQL_OPTIONS,
    )


def _quoted(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _column_list(conn: sa.Connection, rows: pa.Table) -> str:
    return ", ".join(_quoted(conn, c) for c in rows.column_names)
