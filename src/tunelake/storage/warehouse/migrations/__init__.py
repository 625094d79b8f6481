"""Versioned schema migrations (Alembic), run from code: no alembic.ini needed.

`versions/` holds the revisions, oldest first; each is frozen once released, and a new change
to `schema.py` comes with a new revision (the tests check that the newest one builds exactly
`schema.metadata`, on every backend).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

#: tunelake's own version table, so a database shared with another Alembic project is safe.
VERSION_TABLE = "tunelake_schema_version"


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
    command.upgrade(config, revision)
