"""`tunelake lake repair`: put the catalog back in step with the tables' metadata files.

Two damages are repaired (issue 16.11):

- a table's current metadata file is gone (deleted, or unreadable): its catalog entry is
  pointed at the newest metadata file that still reads;
- the local catalog file (catalog.db) is not a database any more: it is moved aside (kept
  for inspection) and every table found under the lake's root is registered into a fresh one.

Both only re-point the catalog at files the tables already have: no data file is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from tunelake.storage.lake.port import LakeError
from tunelake.storage.lake.store import Store

METADATA_SUFFIX = ".metadata.json"


@dataclass
class Repaired:
    """What a repair did: tables re-pointed, and the damaged catalog file kept aside."""

    tables: dict[str, str] = field(default_factory=dict)
    """table name → the metadata file it now reads."""
    catalog_kept_as: str | None = None


def damaged_catalog_file(catalog_url: str) -> str | None:
    """The local SQLite catalog file of catalog_url, if it exists and is not a database."""
    if not catalog_url.startswith("sqlite:///"):
        return None
    path = catalog_url.removeprefix("sqlite:///")
    if not os.path.isfile(path):
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.execute("select name from sqlite_master").fetchall()
    except sqlite3.DatabaseError:
        return path
    return None


def set_catalog_aside(path: str) -> str:
    """Move the damaged catalog file out of the way (never deleted: it may matter to someone)."""
    kept = f"{path}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    os.replace(path, kept)
    return kept


def table_names(store: Store, namespace: str) -> list[str]:
    """The tables whose folders hold metadata files under the lake's root."""
    base = store.join(namespace)
    return sorted(
        name
        for name in store.names(base)
        if any(
            n.endswith(METADATA_SUFFIX)
            for n in store.names(store.join(namespace, name, "metadata"))
        )
    )


def newest_readable(store: Store, namespace: str, table: str) -> str:
    """The newest metadata file of table that reads, as a URL; LakeError if none does."""
    folder = store.join(namespace, table, "metadata")
    # Names start with a zero-padded version (00003-<uuid>.metadata.json): newest sorts last.
    for name in sorted(
        (n for n in store.names(folder) if n.endswith(METADATA_SUFFIX)), reverse=True
    ):
        data = store.read_bytes(store.join(namespace, table, "metadata", name))
        try:
            readable = data is not None and "format-version" in json.loads(data)
        except ValueError:  # truncated or not JSON
            readable = False
        if readable:
            return f"{store.location}/{namespace}/{table}/metadata/{name}"
    raise LakeError(f"table {namespace}.{table} has no readable metadata file to repair from")


def repair_tables(catalog: Catalog, store: Store, namespace: str, *, every: bool) -> dict[str, str]:
    """Re-point each table whose current metadata does not read (every: register every table
    found under the root, as into a fresh catalog) at its newest readable metadata file."""
    done: dict[str, str] = {}
    known = {name for _, name in catalog.list_tables(namespace)}
    for name in table_names(store, namespace) if every else sorted(known):
        ident = (namespace, name)
        if name in known:
            try:
                catalog.load_table(ident)
                continue  # healthy
            except (OSError, ValueError):
                pass
            with contextlib.suppress(NoSuchTableError):
                catalog.drop_table(ident)
        url = newest_readable(store, namespace, name)
        catalog.register_table(ident, url)
        done[name] = url
    return done
