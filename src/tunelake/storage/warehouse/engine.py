"""From a warehouse URL to a SQLAlchemy engine with the driver and options tunelake needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from tunelake.storage.sqlite_files import IMMUTABLE, file_uri, needs_immutable

#: backend -> the one driver whose bulk path tunelake uses (psycopg 3: COPY; PyMySQL: LOAD
#: DATA LOCAL INFILE); a URL without a driver gets this one.
DRIVERS = {
    "sqlite": "pysqlite",
    "mysql": "pymysql",
    "mariadb": "pymysql",
    "postgresql": "psycopg",
}
EXAMPLES = (
    "sqlite:///path/to/warehouse.db, mysql+pymysql://user@host:3306/db, "
    "postgresql+psycopg://user@host:5432/db"
)
SQLITE_BUSY_TIMEOUT_S = 30
"""How long a SQLite writer waits for another writer's transaction to end."""
SQLITE_CACHE_KIB = 64 * 1024


def parse_url(url: str) -> URL:
    """The URL with its driver made explicit; a clear error for anything tunelake cannot use."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        # the text may hold a password: do not echo it
        raise ValueError(f"not a warehouse URL; expected one like {EXAMPLES}") from None
    backend = parsed.get_backend_name()
    driver = DRIVERS.get(backend)
    if driver is None:
        raise ValueError(
            f"unsupported warehouse database {backend!r}: use SQLite, MariaDB/MySQL or "
            f"PostgreSQL, e.g. {EXAMPLES}"
        )
    given = parsed.get_driver_name()
    if "+" in parsed.drivername and given != driver:
        raise ValueError(
            f"warehouse driver {given!r} is not supported for {backend}: use {backend}+{driver}://"
        )
    return parsed.set(drivername=f"{backend}+{driver}")


def create_warehouse_engine(url: URL, *, read_only: bool = False) -> sa.Engine:
    """An engine for url; read_only: a SQLite file in a folder this process cannot write is
    opened immutable (`tunelake.storage.sqlite_files`)."""
    backend = url.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": True}
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        file = Path(url.database) if url.database and url.database != ":memory:" else None
        if file is not None and read_only and needs_immutable(file):
            url = url.set(database=file_uri(file), query={**IMMUTABLE, "uri": "true"})
        elif file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        if "timeout" not in url.query:
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif backend in ("mysql", "mariadb"):
        options["pool_recycle"] = 3600  # under the server's wait_timeout, which drops idle links
        # PostgreSQL's default level. InnoDB's default, REPEATABLE READ, takes gap locks that
        # make two writers replacing the same children deadlock on an empty range.
        options["isolation_level"] = "READ COMMITTED"
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        if "local_infile" not in url.query:
            connect_args["local_infile"] = True
    engine = sa.create_engine(url, connect_args=connect_args, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the service, reports) go on while the pipeline writes; with WAL,
    # synchronous=NORMAL stays consistent through crashes and spares an fsync per commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A bulk upsert touches more pages than the default 2 MiB cache holds.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()
