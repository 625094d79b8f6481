"""Versioned schema migrations (Alembic), run from code: no alembic.ini needed.

`versions/` holds the revisions, oldest first; each is frozen once released, and a new change
to `schema.py` comes with a new revision (the tests check that the newest one builds exactly
`schema.metadata`, on every backend).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from tunelake.errors import TransientError

#: tunelake's own version table, so a database shared with another Alembic project is safe.
VERSION_TABLE = "tunelake_schema_version"

#: The name (MariaDB) and key (PostgreSQL) of the lock that queues migrations.
LOCK_NAME = "tunelake_migrate"
LOCK_KEY = 0x74756E656C616B65  # "tunelake" in ASCII: a key no other project picks by chance
LOCK_TIMEOUT_S = 300

# Alembic's `context` and `op` are module-level proxies: one upgrade per process at a time.
_ALEMBIC = threading.Lock()


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at; None for a database tunelake never migrated."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Bring the database on `connection` to `revision`; revisions already applied are skipped."""
    config = Config()
    # configparser interpolation: a literal % in the path must be doubled
    config.set_main_option("script_location", str(Path(__file__).parent).replace("%", "%%"))
    config.attributes["connection"] = connection
    with _ALEMBIC, _one_migration_at_a_time(connection):
        command.upgrade(config, revision)


@contextmanager
def _one_migration_at_a_time(connection: sa.Connection) -> Iterator[None]:
    """Queue migrations of one database, so that several runs starting on a new warehouse at
    once (a Dagster backfill launches them so) find it migrated instead of each creating its
    tables: the second creator would fail with "table already exists"."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # pysqlite opens no transaction before DDL; take the write lock before reading the
        # version, so the next migrator waits (busy timeout) and then reads it up to date.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield
    elif dialect == "postgresql":
        # released with the transaction, which also holds the (transactional) DDL
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
        yield
    elif dialect in ("mysql", "mariadb"):
        # MariaDB's DDL commits as it goes, so the lock is the session's and released by hand
        got = connection.execute(sa.select(sa.func.get_lock(LOCK_NAME, LOCK_TIMEOUT_S))).scalar()
        if got != 1:
            raise TransientError(
                f"another process kept migrating the warehouse for {LOCK_TIMEOUT_S} s; "
                "run again when it has finished"
            )
        try:
            yield
        finally:
            connection.execute(sa.select(sa.func.release_lock(LOCK_NAME)))
    else:
        yield
