"""Create and drop the database a warehouse URL names: a first install on a fresh server, and
the scratch databases of tests and benchmarks. Needs a user allowed to create databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url


def create_database(url: str) -> None:
    """Create the database `url` names (UTF-8; on MySQL the warehouse's binary collation).
    SQLite creates its file on first use."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return
    _on_server(parsed, _CREATE[backend])


def drop_database(url: str) -> None:
    """Drop the database `url` names, if it exists (for SQLite: the file and its WAL)."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    _on_server(parsed, _DROP[backend])


_CREATE = {
    "mysql": "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    "mariadb": "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    "postgresql": "CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0",
}
_DROP = {
    "mysql": "DROP DATABASE IF EXISTS {}",
    "mariadb": "DROP DATABASE IF EXISTS {}",
    # FORCE: pooled connections of a closed warehouse may still linger for a moment
    "postgresql": "DROP DATABASE IF EXISTS {} WITH (FORCE)",
}


def _on_server(url: URL, statement: str) -> None:
    """Run `statement` (with the database name quoted in) from the server's default database:
    one cannot create or drop the database one is connected to."""
    if not url.database:
        raise ValueError(f"{url.render_as_string(hide_password=True)} names no database")
    default = "postgres" if url.get_backend_name() == "postgresql" else "information_schema"
    engine = create_warehouse_engine(url.set(database=default))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            name = conn.dialect.identifier_preparer.quote_identifier(url.database)
            conn.exec_driver_sql(statement.format(name))
    finally:
        engine.dispose()
