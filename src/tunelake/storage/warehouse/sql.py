"""The warehouse on SQLAlchemy Core: SQLite, MariaDB/MySQL (PyMySQL), PostgreSQL (psycopg 3)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random

from tunelake.redact import mask_url
from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url
from tunelake.storage.warehouse.loaders import loader_for
from tunelake.storage.warehouse.migrations import current_revision, upgrade
from tunelake.storage.warehouse.port import WarehouseUnavailable
from tunelake.storage.warehouse.rows import genre_rows, prepare, to_arrow, to_db_value
from tunelake.storage.warehouse.schema import (
    BULK_TABLES,
    INGEST_STATUSES,
    OPEN_INGEST_STATUSES,
    artist_genres,
    artists,
    ingest_requests,
    metadata,
    pipeline_runs,
)
from tunelake.storage.warehouse.statements import upsert_statement, utcnow

T = TypeVar("T")

#: Deadlock errors: PostgreSQL's SQLSTATE, MySQL's error number. The loser's transaction is
#: rolled back whole, so it can simply run again.
_DEADLOCK_SQLSTATES = {"40P01"}
_DEADLOCK_MYSQL_ERRORS = {1213}
#: SQLite's answer to a transaction that read, then wants to write after another writer got
#: in first (first migrations of processes started together): it fails at once, without
#: waiting out the busy timeout, and its transaction is rolled back whole.
_SQLITE_BUSY = "database is locked"
_ATTEMPTS = 5
_DELETE_CHUNK = 1000
"""Parents per DELETE … IN (…): far under every backend's bound-parameter limit."""


class SqlWarehouse:
    """The `Warehouse` port for any URL `engine.parse_url` accepts."""

    def __init__(self, url: str, *, read_only: bool = False):
        parsed = parse_url(url)
        self.url = mask_url(parsed.render_as_string(hide_password=False))
        self._password = parsed.password
        self._engine = create_warehouse_engine(parsed, read_only=read_only)
        self._loader = loader_for(self._engine.dialect.name)

    def __repr__(self) -> str:
        return f"SqlWarehouse({self.url!r})"

    def __enter__(self) -> SqlWarehouse:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # schema ------------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Upgrade to `revision` (default: the newest); an up-to-date warehouse is untouched."""
        self._transact(lambda conn: upgrade(conn, revision))

    def schema_revision(self) -> str | None:
        with self._begin() as conn:
            return current_revision(conn)

    # bulk writes -------------------------------------------------------------------------
    def upsert(self, table: str, rows: pa.Table) -> int:
        target = _bulk_table(table)
        genres: tuple[pa.Array, pa.Table] | None = None
        if target.name == "artists" and "genres" in rows.column_names:
            rows = prepare(target, rows, carry=["genres"])
            artists, children = genre_rows(rows)
            genres = (artists, prepare(artist_genres, children))
            rows = rows.drop_columns(["genres"])
        else:
            rows = prepare(target, rows)

        def work(conn: sa.Connection) -> None:
            self._loader.write(conn, target, rows)
            if genres is not None:
                self._replace(conn, artist_genres, "artist_id", *genres)

        self._transact(work)
        return rows.num_rows

    def replace_children(self, table: str, parent: str, rows: pa.Table) -> int:
        target = _bulk_table(table)
        if parent not in target.c:
            raise ValueError(f"{table} has no column {parent!r} to group children by")
        rows = prepare(target, rows)
        if parent not in rows.column_names:
            raise ValueError(f"{table}: rows lack the parent column {parent!r}")
        parents = pc.unique(rows.column(parent))
        self._transact(lambda conn: self._replace(conn, target, parent, parents, rows))
        return rows.num_rows

    def _replace(
        self, conn: sa.Connection, table: sa.Table, parent: str, parents: pa.Array, rows: pa.Table
    ) -> None:
        """Delete the children of `parents`, then write `rows`, inside the caller's transaction."""
        self._loader.lock_for_replace(conn, table)
        listed = parents.to_pylist()
        column = table.c[parent]
        for start in range(0, len(listed), _DELETE_CHUNK):
            conn.execute(sa.delete(table).where(column.in_(listed[start : start + _DELETE_CHUNK])))
        self._loader.write(conn, table, rows)

    # reads -------------------------------------------------------------------------------
    def read(self, table: str, where: dict[str, Any] | None = None) -> pa.Table:
        """Rows in primary-key order; a None in `where` matches NULL."""
        target = _table(table)
        stmt = sa.select(target).order_by(*target.primary_key.columns)
        for name, value in (where or {}).items():
            if name not in target.c:
                raise ValueError(
                    f"{table} has no column {name!r}; columns are {list(target.c.keys())}"
                )
            column = target.c[name]
            stmt = stmt.where(
                column.is_(None) if value is None else column == to_db_value(column, value)
            )
        with self._begin() as conn:
            return to_arrow(target, conn.execute(stmt))

    def count(self, table: str) -> int:
        target = _table(table)
        with self._begin() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())

    def search_artists(
        self, text: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        if limit < 1 or offset < 0:
            raise ValueError(
                f"limit must be at least 1 and offset at least 0, not {limit}, {offset}"
            )
        t = artists
        # autoescape: a % or _ in the text is a character to find, not a wildcard
        match = sa.func.lower(t.c.name).contains(text.lower(), autoescape=True)
        columns = [t.c.artist_id, t.c.name, t.c.popularity, t.c.followers, t.c.image_url]
        page = (
            sa.select(*columns)
            .where(match)
            .order_by(t.c.name, t.c.artist_id)
            .limit(limit)
            .offset(offset)
        )
        with self._begin() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).where(match)).scalar_one())
            rows = [dict(r._mapping) for r in conn.execute(page)] if total > offset else []
            g = artist_genres
            of_page = (
                sa.select(g.c.artist_id, g.c.genre)
                .where(g.c.artist_id.in_([r["artist_id"] for r in rows]))
                .order_by(g.c.artist_id, g.c.genre)
            )
            genres: dict[str, list[str]] = {}
            for artist_id, genre in conn.execute(of_page) if rows else ():
                genres.setdefault(artist_id, []).append(genre)
        # as the serving documents have them: no genre rows is an empty list
        return [{**r, "genres": genres.get(r["artist_id"], [])} for r in rows], total

    def genre_counts(self, limit: int) -> list[tuple[str, int]]:
        t = artist_genres
        n = sa.func.count().label("n")
        stmt = (
            sa.select(t.c.genre, n).group_by(t.c.genre).order_by(n.desc(), t.c.genre).limit(limit)
        )
        with self._begin() as conn:
            return [(genre, int(count)) for genre, count in conn.execute(stmt)]

    # ingest requests ---------------------------------------------------------------------
    def add_ingest_requests(
        self, queries: Sequence[str], source: str, status: str = "pending"
    ) -> int:
        if status not in OPEN_INGEST_STATUSES:
            raise ValueError(f"a new ingest request is one of {OPEN_INGEST_STATUSES}, not {status}")
        if isinstance(queries, str):
            raise ValueError("queries must be a list of names or ids, not one string")
        wanted = list(dict.fromkeys(q.strip() for q in queries))
        if "" in wanted:
            raise ValueError("an ingest request needs a non-empty artist name or id")
        if not source.strip():
            raise ValueError("an ingest request needs a source (who asked)")
        t = ingest_requests
        limit = cast(sa.String, t.c.query.type).length or 0
        too_long = [q for q in wanted if len(q) > limit]
        if too_long:
            raise ValueError(f"ingest request queries over {limit} characters: {too_long[:3]}")

        def work(conn: sa.Connection) -> int:
            open_ = sa.select(t.c.query).where(t.c.status.in_(OPEN_INGEST_STATUSES))
            pending = set(conn.scalars(open_))
            new = [q for q in wanted if q not in pending]
            if new:
                stmt = sa.insert(t).values(status=status, created_at=utcnow(), updated_at=utcnow())
                conn.execute(stmt, [{"query": q, "source": source} for q in new])
            return len(new)

        return self._transact(work)

    def pending_ingest_requests(self) -> list[dict[str, Any]]:
        """Pending requests, oldest first, each a dict of the ingest_requests columns."""
        return self.read("ingest_requests", {"status": "pending"}).to_pylist()

    def approve_ingest_request(self, request_id: int) -> bool:
        t = ingest_requests
        stmt = (
            sa.update(t)
            .where(t.c.request_id == request_id, t.c.status == "review")
            .values(status="pending", updated_at=utcnow())
        )
        return bool(self._transact(lambda conn: conn.execute(stmt).rowcount))

    def resolve_ingest_request(
        self, request_id: int, status: str, artist_id: str | None, detail: str | None
    ) -> None:
        outcomes = [s for s in INGEST_STATUSES if s not in OPEN_INGEST_STATUSES]
        if status not in outcomes:
            raise ValueError(f"ingest request status must be one of {outcomes}, not {status!r}")
        t = ingest_requests
        stmt = (
            sa.update(t)
            .where(t.c.request_id == request_id)
            .values(status=status, artist_id=artist_id, detail=detail, updated_at=utcnow())
        )
        if not self._transact(lambda conn: conn.execute(stmt).rowcount):
            raise LookupError(f"no ingest request {request_id}")

    # run records -------------------------------------------------------------------------
    def record_run(self, record: dict[str, Any]) -> None:
        row = _run_row(record)
        stmt = upsert_statement(self._engine.dialect.name, pipeline_runs, list(row))
        self._transact(lambda conn: conn.execute(stmt, row))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The `run` rows of the newest runs, newest start first (records without a start
        last), and the step rows of those runs; `details` parsed."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        t = pipeline_runs
        newest = (
            sa.select(t.c.run_id)
            .where(t.c.step == "run")
            .order_by(t.c.started_at.is_(None), t.c.started_at.desc(), t.c.run_id.desc())
            .limit(limit)
        )
        return self._run_rows(newest)

    def run(self, run_id: str) -> list[dict[str, Any]]:
        """Every row of one run (its `run` row and its steps); empty for an unknown id."""
        return self._run_rows([run_id])

    def _run_rows(self, run_ids: Any) -> list[dict[str, Any]]:
        t = pipeline_runs
        with self._begin() as conn:
            # MariaDB refuses LIMIT inside IN (subquery): take the ids first
            ids = list(run_ids) if isinstance(run_ids, list) else conn.scalars(run_ids).all()
            stmt = (
                sa.select(t)
                .where(t.c.run_id.in_(ids))
                .order_by(
                    t.c.started_at.is_(None), t.c.started_at.desc(), t.c.run_id.desc(), t.c.step
                )
            )
            records = to_arrow(t, conn.execute(stmt)).to_pylist() if ids else []
        for r in records:
            r["details"] = None if r["details"] is None else json.loads(r["details"])
        return records

    def close(self) -> None:
        self._engine.dispose()

    # plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        try:
            conn = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            if _lost_to_another_writer(exc):
                raise  # SQLite busy while the connection is set up: _transact runs it again
            cause = str(exc.orig).strip()
            if self._password:  # as a token: a short password is also a part of words
                cause = re.sub(rf"(?<!\w){re.escape(self._password)}(?!\w)", "***", cause)
            raise WarehouseUnavailable(self.url, cause) from None
        with conn, conn.begin():
            yield conn

    def _transact(self, work: Callable[[sa.Connection], T]) -> T:
        """`work` in one transaction, run again if the database rolled it back to let another
        writer through: a deadlock victim (two writers upserting overlapping keys on MySQL can
        be), or SQLite's immediate "database is locked"."""
        retrying = Retrying(
            retry=retry_if_exception(_lost_to_another_writer),
            stop=stop_after_attempt(_ATTEMPTS),
            wait=wait_random(0.05, 0.5),
            reraise=True,
        )
        return retrying(self._once, work)

    def _once(self, work: Callable[[sa.Connection], T]) -> T:
        with self._begin() as conn:
            return work(conn)


def _table(name: str) -> sa.Table:
    table = metadata.tables.get(name)
    if table is None:
        raise ValueError(f"no warehouse table {name!r}; tables are {sorted(metadata.tables)}")
    return table


def _bulk_table(name: str) -> sa.Table:
    table = BULK_TABLES.get(name)
    if table is None:
        raise ValueError(
            f"{name!r} is not a table for bulk writes; these are {sorted(BULK_TABLES)} "
            "(ingest requests and run records have their own methods)"
        )
    return table


def _lost_to_another_writer(exc: BaseException) -> bool:
    if not isinstance(exc, sa.exc.DBAPIError) or exc.orig is None:
        return False
    if getattr(exc.orig, "sqlstate", None) in _DEADLOCK_SQLSTATES:
        return True
    if isinstance(exc, sa.exc.OperationalError) and _SQLITE_BUSY in str(exc.orig):
        return True
    args = exc.orig.args
    return bool(args) and args[0] in _DEADLOCK_MYSQL_ERRORS


def _run_row(record: dict[str, Any]) -> dict[str, Any]:
    """A pipeline_runs row from a run record: known columns only, values coerced."""
    t = pipeline_runs
    unknown = sorted(set(record) - set(t.c.keys()))
    if unknown:
        raise ValueError(f"run record: unknown field(s) {unknown}; fields are {list(t.c.keys())}")
    missing = [c for c in ("run_id", "step", "status") if not record.get(c)]
    if missing:
        raise ValueError(f"run record: {missing} must be given")
    row = {k: v for k, v in record.items() if k != "details"}
    row = {k: to_db_value(t.c[k], v) for k, v in row.items()}
    if "details" in record:
        row["details"] = _details_json(record["details"])
    return row


def _details_json(details: Any) -> str | None:
    if details is None:
        return None
    if isinstance(details, str):
        try:
            json.loads(details)
        except ValueError as exc:
            raise ValueError(f"run record: details is not JSON text: {exc}") from None
        return details
    return json.dumps(details, default=str, ensure_ascii=False)
