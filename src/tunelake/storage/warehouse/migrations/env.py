"""Alembic's entry point: migrate on the connection `migrations.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from tunelake.storage.warehouse.migrations import VERSION_TABLE
from tunelake.storage.warehouse.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through tunelake (SqlWarehouse.migrate), not the alembic CLI"
    )
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
