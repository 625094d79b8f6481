"""From a warehouse URL to a SQLAlchemy engine with the driver and options tunelake needs."""

from __future__ import annotations

import inspect
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from tunelake.errors import ConfigError
from tunelake.redact import mask_url
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
SETTING = "TUNELAKE_WAREHOUSE_URL"
#: The query options pysqlite takes (SQLAlchemy drops any other with a mere warning, unless
#: uri=true hands them to SQLite itself).
SQLITE_OPTIONS = (
    "uri",
    "timeout",
    "isolation_level",
    "detect_types",
    "check_same_thread",
    "cached_statements",
)
#: Query options that name a file (a folder: ssl_capath) the driver opens when it connects.
FILE_OPTIONS = {
    "mysql": ("ssl_ca", "ssl_cert", "ssl_key", "ssl_capath", "read_default_file"),
    "postgresql": ("sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "passfile"),
}
SQLITE_BUSY_TIMEOUT_S = 30
"""How long a SQLite writer waits for another writer's transaction to end."""
SQLITE_CACHE_KIB = 64 * 1024


def parse_url(url: str, setting: str = SETTING) -> URL:
    """The URL with its driver made explicit; a ConfigError naming `setting` (the password
    masked) for anything tunelake cannot use: a text that is no URL, a database or driver it
    does not support, a query option the driver does not know, a file option naming no file."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        # the text may hold a password that no URL parser finds: do not echo it
        raise ConfigError(
            f"{setting} is not a database URL (not shown: it may hold a password); "
            f"expected one like {EXAMPLES}"
        ) from None
    said = f"{setting} {mask_url(parsed.render_as_string(hide_password=False))}"
    backend = parsed.get_backend_name()
    driver = DRIVERS.get(backend)
    if driver is None:
        raise ConfigError(
            f"{said}: unsupported database {backend!r}; supported: SQLite, MariaDB/MySQL and "
            f"PostgreSQL, e.g. {EXAMPLES}"
        )
    given = parsed.get_driver_name()
    if "+" in parsed.drivername and given != driver:
        raise ConfigError(
            f"{said}: driver {given!r} is not supported for {backend}: use {backend}+{driver}://"
        )
    _check_options(parsed, said)
    return parsed.set(drivername=f"{backend}+{driver}")


def _check_options(url: URL, said: str) -> None:
    """Refuse what the driver would ignore or fail on only at the first connection, with a
    traceback: an unknown query option, a certificate file that is not there."""
    backend = "mysql" if url.get_backend_name() == "mariadb" else url.get_backend_name()
    known = _known_options(backend)
    if known is not None and not (backend == "sqlite" and url.query.get("uri") == "true"):
        unknown = sorted(set(url.query) - known)
        if unknown:
            raise ConfigError(
                f"{said}: unknown query option(s) {', '.join(unknown)} for {backend}"
                + (f"; known: {', '.join(SQLITE_OPTIONS)}" if backend == "sqlite" else "")
            )
    for option in FILE_OPTIONS.get(backend, ()):
        value = url.query.get(option)
        if isinstance(value, str) and value != "system" and not Path(value).exists():
            raise ConfigError(f"{said}: {option}={value}: no such file")


@cache  # a driver's options do not change: no signature or libpq call per opened store
def _known_options(backend: str) -> frozenset[str] | None:
    """The query options the backend's driver takes; None when the driver (an extra) is not
    installed: connecting then says which extra it needs."""
    if backend == "sqlite":
        return frozenset(SQLITE_OPTIONS)
    try:
        if backend == "mysql":
            import pymysql

            params = inspect.signature(pymysql.connections.Connection.__init__).parameters
            return frozenset(
                set(params) - {"self"} | {"ssl_capath", "ssl_cipher", "ssl_check_hostname"}
            )
        import psycopg

        return frozenset(o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults())
    except ImportError:
        return None


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
        elif file is not None and not read_only:  # a reader creates no folder
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
    # WAL is a property of the file: set it once (switching takes the file's lock, which
    # fails at once while another connection writes, as when several first runs start).
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A bulk upsert touches more pages than the default 2 MiB cache holds.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()
