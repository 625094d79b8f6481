"""SQL over the lake (the Athena/Presto role) on an in-memory DuckDB, read-only.

Every Iceberg table of the lake is a view under its dataset's name over the data files of one
snapshot (the current one, or the one current at `as_of`: time travel), with `dt` a DATE
column; every dataset with a quarantine table also has a `quarantine_<dataset>` view. Nothing
is loaded into memory: DuckDB reads the Parquet files as a query needs them.

Read-only, and the lake only: one statement at a time, and only a query (SELECT, a PIVOT,
EXPLAIN of a query) runs; COPY … TO, ATTACH, INSTALL/LOAD, EXPORT, CREATE, SET, PRAGMA and CALL
are refused before DuckDB sees them, so no query can write or delete a file or change stored
data. Once the views exist, DuckDB itself is locked down (`_lock_down`): a local lake's files
are the only files it may open (external access off, the lake's folder allowed), an S3 lake's
connection has no local filesystem at all, and the configuration is locked, so a query cannot
read `/proc/self/environ`, `/etc/passwd` or any other file a query names, nor undo the lock.

A query runs on a worker thread: Ctrl-C (KeyboardInterrupt in the waiting thread) interrupts
DuckDB and is raised again once the query stopped.

Whatever is readable is served: a table whose metadata or data files cannot be read is left
out, and `problems` names the table and the file (the CLI prints them as warnings).

An S3 lake is read through the lake's own fsspec filesystem registered on the connection:
DuckDB's httpfs extension needs a download this machine cannot make.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import structlog
from fsspec.implementations.local import LocalFileSystem

from tunelake.errors import InputError
from tunelake.storage.lake.port import Lake, LakeError

QUARANTINE_PREFIX = "quarantine_"
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
AsOf = datetime | int
_QUERY_TYPES = (duckdb.StatementType.SELECT, duckdb.StatementType.MULTI)

log = structlog.get_logger(__name__)


class SqlError(InputError):
    """A query failed or is not allowed; the message says why."""


class LakeSql(Protocol):
    """Read-only SQL over the lake's views, on any engine."""

    problems: list[str]
    """Tables left out of the views because they cannot be read, each with why."""

    def views(self) -> list[str]: ...

    def refresh(self) -> None: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table: ...

    def close(self) -> None: ...


def open_sql(
    lake: Lake,
    engine: str = "duckdb",
    spark_master: str | None = None,
    *,
    as_of: AsOf | None = None,
) -> LakeSql:
    """The lake's views on `engine`: duckdb (in process) or spark (Spark SQL, the spark extra)."""
    if engine not in ("duckdb", "spark"):
        raise SqlError(f"unknown SQL engine {engine!r}: choose duckdb or spark")
    if engine == "spark":
        if as_of is not None:
            raise SqlError("--as-of is answered by the duckdb engine only")
        from tunelake.engines.spark import session
        from tunelake.engines.spark_sql import SparkSqlEngine

        return SparkSqlEngine(lake, session(spark_master))
    return SqlEngine(lake, as_of=as_of)


def view_files(
    lake: Lake, as_of: datetime | None = None, problems: list[str] | None = None
) -> dict[str, dict[date, list[str]]]:
    """Each view's name and its files (now, or as of a time): a view per dataset and a
    `quarantine_<dataset>` view per quarantine table. A table whose metadata cannot be read
    is named in `problems`, not fatal."""
    found: dict[str, dict[date, list[str]]] = {}
    listings = [(name, name, lake.files) for name in lake.datasets()]
    listings += [(QUARANTINE_PREFIX + n, n, lake.quarantine_files) for n in lake.quarantined()]
    for view, dataset, files_of in listings:
        try:
            files = files_of(dataset, as_of)
        except LakeError as exc:
            if problems is None:
                raise
            problems.append(f"{view} left out: {exc}")
            continue
        if files:
            found[view] = files
    return found


class SqlEngine:
    def __init__(self, lake: Lake, *, as_of: AsOf | None = None) -> None:
        """as_of: a time, or a snapshot id of any table (its commit time is used for all)."""
        self._lake = lake
        try:
            self._as_of = lake.snapshot_time(as_of) if isinstance(as_of, int) else as_of
        except LakeError as exc:
            raise SqlError(str(exc)) from None
        if self._as_of is not None:
            _check_travel(lake, self._as_of)
        # Never reach for the network to install or load an extension.
        self._con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        if not isinstance(lake.filesystem, LocalFileSystem):
            self._con.register_filesystem(lake.filesystem)
        self._views: list[str] = []
        self.problems: list[str] = []
        """What was left out at the last refresh, and why (table and file named)."""
        self._refresh_lock = threading.Lock()
        self.refresh()
        _lock_down(self._con, lake)

    def __repr__(self) -> str:
        return f"SqlEngine({self._lake.url!r}, views={self._views})"

    def views(self) -> list[str]:
        return list(self._views)

    def refresh(self) -> None:
        """Point the views at the tables' files (and drop those of vanished tables), in one
        transaction: a concurrent query sees the old set or the new one."""
        problems: list[str] = []
        wanted: dict[str, str] = {}
        for name, files in view_files(self._lake, self._as_of, problems).items():
            scan = _scan(files)
            problem = self._unreadable(name, scan, files)
            if problem:
                problems.append(problem)
            else:
                wanted[name] = scan
        with self._refresh_lock, self._con.cursor() as cur:
            cur.begin()
            for gone in set(self._views) - set(wanted):
                cur.execute(f"DROP VIEW IF EXISTS {_identifier(gone)}")
            for name, scan in wanted.items():
                cur.execute(f"CREATE OR REPLACE VIEW {_identifier(name)} AS {scan}")
            cur.commit()
            self._views = sorted(wanted)
        self.problems = problems
        for problem in problems:
            log.warning("sql_view_left_out", problem=problem)

    def _unreadable(self, name: str, scan: str, files: dict[date, list[str]]) -> str | None:
        """None if the view binds (DuckDB reads every file's footer to unify the schemas);
        otherwise which file spoils it."""
        with self._con.cursor() as cur:
            try:
                cur.execute(f"DESCRIBE {scan}")
                return None
            except duckdb.Error as exc:
                whole = exc
            for path in (p for dt in sorted(files) for p in files[dt]):
                try:
                    cur.execute(f"DESCRIBE SELECT * FROM read_parquet({_literal(path)})")
                except duckdb.Error as exc:
                    return f"{name} left out: cannot read {path}: {_first_line(exc)}"
        return f"{name} left out: {_first_line(whole)}"

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run sql (with `?` or `$1` placeholders bound to params) and return its rows."""
        self._check_read_only(sql)
        log.info("sql_query_started", chars=len(sql))
        try:
            try:
                return self._run(sql, params)
            except duckdb.IOException:
                # A view's files were removed (housekeeping) since the views were built; one
                # refresh points them at the current snapshot.
                self.refresh()
                return self._run(sql, params)
        except duckdb.PermissionException as exc:
            raise SqlError(
                f"tunelake sql reads the lake's views only, no other file: {_first_line(exc)}"
            ) from None
        except duckdb.Error as exc:
            raise SqlError(self._explained(exc)) from None

    def _explained(self, exc: duckdb.Error) -> str:
        """The error, with the reason a table it names was left out of the views."""
        message = str(exc)
        if isinstance(exc, duckdb.CatalogException):
            for problem in self.problems + self._younger_than_as_of():
                name = problem.partition(" left out: ")[0]
                if re.search(rf"\b{re.escape(name)}\b", message):
                    message += f" ({problem})"
        return message

    def _younger_than_as_of(self) -> list[str]:
        """Why each dataset without a view was left out when the lake is read as of a time
        before its first snapshot (not a warning: that is what time travel shows)."""
        if self._as_of is None:
            return []
        when = self._as_of.isoformat(timespec="seconds")
        return [
            f"{name} left out: it has no snapshot at or before --as-of {when}"
            for name in self._lake.datasets()
            if name not in self._views
        ]

    def _check_read_only(self, sql: str) -> None:
        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            raise SqlError(str(exc)) from None
        for statement in statements:
            if not _is_query(self._con, statement):
                kind = statement.type.name
                raise SqlError(
                    f"tunelake sql is read-only: only SELECT queries run, not {kind} "
                    f"({_first_line(statement.query.strip())[:80]})"
                )
        if len(statements) > 1:
            # Only the last result could be shown: say so rather than drop the others.
            raise SqlError(
                f"one statement at a time: the SQL holds {len(statements)} statements; "
                "run each on its own"
            )

    def _run(self, sql: str, params: Sequence[Any] | None) -> pa.Table:
        """The query on a worker thread, so that Ctrl-C reaches this (waiting) thread: it
        interrupts DuckDB, waits for the query to stop, and is raised again."""
        outcome: list[pa.Table | BaseException] = []
        done = threading.Event()
        with self._con.cursor() as cur:

            def work() -> None:
                try:
                    relation = cur.sql(sql, params=params)
                    outcome.append(pa.table({}) if relation is None else relation.to_arrow_table())
                except BaseException as exc:  # handed to the waiting thread
                    outcome.append(exc)
                finally:
                    done.set()

            threading.Thread(target=work, name="tunelake-sql", daemon=True).start()
            # An Event, not Thread.join: a KeyboardInterrupt inside join() marks a running
            # thread stopped on Python 3.11 (its state lock is released), and the process
            # aborts when that thread ends.
            try:
                while not done.wait(0.2):
                    pass
            except KeyboardInterrupt:
                cur.interrupt()
                done.wait()
                raise
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def close(self) -> None:
        self._con.close()


def _check_travel(lake: Lake, as_of: datetime) -> None:
    """A time before every snapshot the lake keeps would show no table at all, and a query
    would fail as if the tables did not exist: say so, with the earliest time there is."""
    oldest = lake.oldest_snapshot_time()
    if oldest is not None and as_of >= oldest:
        return
    since = (
        f"its oldest snapshot is from {oldest.astimezone().isoformat(timespec='seconds')} "
        "(runs expire the snapshots older than lake_snapshot_retention_days)"
        if oldest is not None
        else "it has none yet (run `tunelake run`)"
    )
    raise SqlError(
        f"--as-of {as_of.isoformat(timespec='seconds')}: the lake has no snapshot at or "
        f"before that time; {since}"
    )


def parse_as_of(text: str | None) -> AsOf | None:
    """`--as-of`: a snapshot id (digits) or an ISO 8601 time, local unless it has an offset."""
    if text is None:
        return None
    if text.strip().isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SqlError(
            f"--as-of {text!r} is neither a snapshot id nor a time like 2026-11-26T08:00:00"
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def _lock_down(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Let the connection open the lake's files and nothing else, and lock its settings so
    that no query can change that (DuckDB's `enable_external_access`, `allowed_directories`,
    `disabled_filesystems` and `lock_configuration`)."""
    if isinstance(lake.filesystem, LocalFileSystem):
        root = lake.url.removeprefix("file://").rstrip("/")
        allowed = sorted({root + "/", os.path.realpath(root) + "/"})
        con.execute("SET allowed_directories = ?", [allowed])
        con.execute("SET enable_external_access = false")
    else:
        # External access off would shut the registered (fsspec) lake filesystem out too:
        # disable the local one instead; no other is loaded (extensions never autoload).
        con.execute("SET disabled_filesystems = 'LocalFileSystem'")
    con.execute("SET lock_configuration = true")


def _is_query(con: duckdb.DuckDBPyConnection, statement: Any) -> bool:
    """Whether a statement only reads: a SELECT, a PIVOT, or EXPLAIN of one."""
    if statement.type == duckdb.StatementType.SELECT:
        return True
    if statement.type == duckdb.StatementType.MULTI:
        # DuckDB parses a PIVOT without an IN list as MULTI (it creates an enum type for the
        # pivoted values, then selects); so it does a COPY or an INSERT holding one. What
        # reads is what can stand as a subquery.
        body = statement.query.strip().rstrip(";")
        try:
            wrapped = con.extract_statements(f"SELECT * FROM (\n{body}\n)")
        except duckdb.Error:
            return False
        return len(wrapped) == 1 and wrapped[0].type in _QUERY_TYPES
    if statement.type != duckdb.StatementType.EXPLAIN:
        return False
    # EXPLAIN ANALYZE runs what it explains: the explained statement must be a SELECT too.
    match = _EXPLAIN.match(statement.query)
    if match is None:
        return False
    inner = con.extract_statements(match["rest"])
    return len(inner) == 1 and _is_query(con, inner[0])


def _scan(files: dict[date, list[str]]) -> str:
    paths = ", ".join(_literal(path) for dt in sorted(files) for path in files[dt])
    # Iceberg keeps `dt` in the data files; union_by_name covers files written before a
    # column was added (schema evolution), which lack it.
    return f"SELECT * FROM read_parquet([{paths}], union_by_name = true, hive_partitioning = false)"


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
