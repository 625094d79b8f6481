"""SQL the adapter builds per dialect: the upsert statement and the database's UTC clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from tunelake.storage.warehouse.schema import TIMESTAMP

#: The column every upsert sets to the database's clock, where the table has one.
UPDATED_AT = "updated_at"


class utcnow(sa.sql.expression.FunctionElement[datetime]):
    """The database's current time in UTC, naive; `now()` would follow the session time zone."""

    type = TIMESTAMP
    inherit_cache = True


@compiles(utcnow, "postgresql")
def _utcnow_postgresql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "TIMEZONE('utc', CURRENT_TIMESTAMP)"


@compiles(utcnow, "mysql")
@compiles(utcnow, "mariadb")
def _utcnow_mysql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "UTC_TIMESTAMP(6)"


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "STRFTIME('%Y-%m-%d %H:%M:%f', 'now')"


def upsert_statement(
    dialect_name: str,
    table: sa.Table,
    columns: Sequence[str],
    source: sa.Table | None = None,
) -> Insert:
    """INSERT of `columns` that updates the row when its primary key exists, in the dialect's
    own form. Values come from bind parameters named after the columns or, given `source`
    (a staging table with those columns), from `INSERT … SELECT` in primary-key order."""
    insert = _DIALECT_INSERTS.get(dialect_name)
    if insert is None:
        raise ValueError(f"no upsert for SQL dialect {dialect_name!r}")
    key = [c.name for c in table.primary_key.columns]
    stamped = UPDATED_AT in table.c and UPDATED_AT not in columns
    if source is None:
        values: dict[str, Any] = {c: sa.bindparam(c) for c in columns}
        if stamped:
            values[UPDATED_AT] = utcnow()
        stmt = insert(table).values(values)
    else:
        selected: list[Any] = [source.c[c] for c in columns]
        if stamped:
            selected.append(utcnow())
        names = [*columns, UPDATED_AT] if stamped else list(columns)
        query = sa.select(*selected).order_by(*(source.c[k] for k in key))
        stmt = insert(table).from_select(names, query)
    changed = [c for c in columns if c not in key]
    if dialect_name in ("mysql", "mariadb"):
        # MySQL has no DO NOTHING; re-setting the key leaves the row as it is.
        updates = {c: stmt.inserted[c] for c in changed or key}
        if stamped:
            updates[UPDATED_AT] = utcnow()
        return stmt.on_duplicate_key_update(updates)
    if not changed:
        return stmt.on_conflict_do_nothing(index_elements=key)
    sets: dict[str, Any] = {c: stmt.excluded[c] for c in changed}
    if stamped:
        sets[UPDATED_AT] = utcnow()
    return stmt.on_conflict_do_update(index_elements=key, set_=sets)


_DIALECT_INSERTS: dict[str, Any] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
    "mysql": mysql.insert,
    "mariadb": mysql.insert,
}
